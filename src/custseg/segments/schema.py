"""Typed shapes of the documents custseg reads from users: rulebooks here, model files in
:mod:`custseg.io.model_schema`.

A document is checked against its shape as a whole before any of it is used: every
field's type (strictly: ``"3"`` is not a number, ``true`` is not a count), range,
finiteness and length, no field missing and none unknown. The first problem is reported
with the field's path (``rules[3].when.annual_income``) through :func:`problem_text`, so
that one message says what to fix. The shapes are pydantic models (pydantic comes with
Typer); the checks that relate fields to each other stay with the code that knows them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from custseg.errors import shown
from custseg.table.fields import NUMERIC_FIELDS
from custseg.table.roles import ROLES
from custseg.table.text import NAME_MAX, RULE_NAME_MAX, TEXT_MAX, WORD_MAX, text_problem

LEVELS = ("low", "mid", "high")
#: Most naming rules in a rulebook.
MAX_RULES = 1_000
#: Largest rulebook text (the default one is 7 KB).
MAX_RULEBOOK_CHARS = 1 << 20


def _text_check(max_len: int, empty: bool = True):
    def check(value: str) -> str:
        problem = text_problem(value, max_len, empty=empty)
        if problem:
            raise ValueError(problem)
        return value
    return AfterValidator(check)


#: A segment name as a model holds it (a rule's name, made unique, or a generic name).
Name = Annotated[str, _text_check(NAME_MAX, empty=False)]
#: A name a rule or an analyst gives.
RuleName = Annotated[str, _text_check(RULE_NAME_MAX, empty=False)]
Word = Annotated[str, _text_check(WORD_MAX)]
Text = Annotated[str, _text_check(TEXT_MAX)]
Feature = Literal[NUMERIC_FIELDS]
#: What a rule's condition may name: a well-known field, or a role (any feature of that
#: role; ``annual_income`` is the feature with role ``income``). ``other`` names nothing.
RULE_KEYS: tuple[str, ...] = tuple(dict.fromkeys(
    (*NUMERIC_FIELDS, *(r for r in ROLES if r != "other"))))
RuleKey = Literal[RULE_KEYS]
Level = Literal[LEVELS]


def _levels(value: Any) -> str | list[str]:
    """A level, or a list of distinct levels any of which holds."""
    from custseg.errors import shown

    items = value if isinstance(value, list) else [value]
    if not items or any(not isinstance(v, str) or v not in LEVELS for v in items) \
            or len(set(items)) != len(items):
        got = shown(value, 30) if isinstance(value, str) else type(value).__name__ \
            if not isinstance(value, int | float | list) else shown(value, 30)[1:-1]
        raise ValueError(f"must be 'low', 'mid' or 'high', or a list of distinct ones "
                         f"such as [\"low\", \"mid\"] (got {got})")
    return value


#: A condition's levels: one, or a list of those any of which holds (``["low", "mid"]``).
Levels = Annotated[Any, AfterValidator(_levels)]


class Strict(BaseModel):
    """Every field typed strictly, none unknown, numbers finite."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class LevelsDoc(Strict):
    threshold: Annotated[float, Field(gt=0, lt=5)] = 0.5


class RuleDoc(Strict):
    name: RuleName
    when: Annotated[dict[RuleKey, Levels], Field(min_length=1)]
    description: Text = ""
    strategy: Text


class OutliersDoc(Strict):
    name: RuleName = "Outliers"
    description: Text = "Customers who fit no dense group."
    strategy: Text = "Review individually; do not target as a segment."


class ReturnsOnlyDoc(Strict):
    name: RuleName = "Returns only"
    description: Text = ("Customers of the log with returns only: no purchase in the "
                         "period, so no recency.")
    strategy: Text = "Check the returns before any campaign."

def _scores(value: Any) -> int | list[int]:
    """A score 1-5, or a list of distinct ones any of which holds."""
    items = value if isinstance(value, list) else [value]
    if not items or any(type(v) is not int or not 1 <= v <= 5 for v in items) \
            or len(set(items)) != len(items):
        got = shown(value, 30) if isinstance(value, str) else shown(value, 30)[1:-1] \
            if isinstance(value, int | float | list) else type(value).__name__
        raise ValueError(f"must be a score from 1 to 5, or a list of distinct ones such as "
                         f"[4, 5] (got {got})")
    return value


#: A condition's scores: one, or a list of those any of which holds (``[4, 5]``).
Scores = Annotated[Any, AfterValidator(_scores)]


class ScoreWhenDoc(Strict):
    """Conditions on a customer's RFM scores; a score not named may be anything."""

    r_score: Scores = None
    f_score: Scores = None
    m_score: Scores = None


class ScoreSegmentDoc(Strict):
    """A segment of the RFM score map: the cells (r, f, m scores) it holds, given by a
    table of conditions or a list of them (a cell in any of them is in the segment)."""

    name: RuleName
    when: ScoreWhenDoc | Annotated[list[ScoreWhenDoc], Field(min_length=1, max_length=125)]
    description: Text = ""
    strategy: Text


class RulebookDoc(Strict):
    """A rulebook (``rules.toml``): levels, words, age modifiers, outliers, rules."""

    version: Literal[1] = 1
    levels: LevelsDoc = LevelsDoc()
    words: dict[Feature, dict[Level, Word]] = {}
    #: Prefixes that separate segments which would share a name; only age has them.
    modifiers: dict[Literal["age"], dict[Level, Word]] = {}
    outliers: OutliersDoc = OutliersDoc()
    returns_only: ReturnsOnlyDoc = ReturnsOnlyDoc()
    rules: Annotated[list[RuleDoc], Field(max_length=MAX_RULES)] = []
    #: The RFM score map (``--algorithm rfm``): every one of the 125 cells in exactly one.
    rfm_segments: Annotated[list[ScoreSegmentDoc], Field(max_length=125)] = []


def field_path(loc: tuple[Any, ...]) -> str:
    """``("rules", 3, "when", "age")`` as ``rules[3].when.age``."""
    out = ""
    for part in loc:
        if part == "[key]":
            out += " (a key)"
        elif isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "the document"


def problem_text(exc: ValidationError) -> str:
    """The first problem of a failed validation, in words: the field's path, what is
    wrong and, for a plain value, the value (quoted and bounded: it is shown as text)."""
    error = exc.errors(include_url=False)[0]
    path = field_path(tuple(error["loc"]))
    kind, message = error["type"], error["msg"]
    if kind == "missing":
        return f"{path} is missing"
    if kind == "extra_forbidden":
        return f"{path} is not a field custseg knows"
    message = message.removeprefix("Value error, ")
    # pydantic names its model class ("a valid dictionary or instance of RuleDoc"): the
    # user wrote a table, and the class is ours, not theirs
    message = re.sub(r" or instance of \w+", "", message)
    message = message[:1].lower() + message[1:]
    value = error.get("input")
    said = ""
    if isinstance(value, str):
        said = f" (got {shown(value)})"
    elif isinstance(value, int | float | bool) or value is None:
        said = f" (got {shown(value, 30)[1:-1]})"
    elif not kind.startswith(("too_", "value_error")):
        said = f" (got {type(value).__name__})"
    if kind == "value_error":
        return f"{path} {message}"
    return f"{path}: {message}{said}"
