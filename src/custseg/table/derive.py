r"""Derived features: a small expression language, parsed into a tree and evaluated on arrays.

A derivation is written ``NAME=EXPR`` (``total=sum(`Mnt*`)``, ``age=years_since(Year_Birth)``).
The text is tokenised and parsed by hand into frozen dataclasses; nothing is ever handed to
``eval``, ``exec`` or ``DataFrame.eval``. The tree is evaluated column-wise with numpy, one
vectorised operation per node, so the cost is (nodes x rows) and never a Python loop per row.

Limits keep hostile text cheap: at most :data:`MAX_LENGTH` characters of expression, at most
:data:`MAX_DEPTH` levels of nesting (parentheses, and the tree itself: a chain of 60 ``+``
is 60 levels deep, use ``sum(...)``). Parsing is linear in the text; evaluation and every
walk over a tree use an explicit stack, so no input can exhaust Python's recursion limit.

Column references are bare ASCII identifiers (``[A-Za-z_][A-Za-z0-9_]*``) or headers in
backticks, taken exactly as written (spaces included). Inside backticks a backtick is written
twice (the header a`b is `a``b`), and an unescaped * or ? makes the name a pattern over
headers (a glob, allowed only as an argument of sum/mean); \*, \? and \\ are a literal *, ?
and backslash, any other backslash is itself. ``docs/derivations.md``
is the user's description of the language.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import math
import operator
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NoReturn

import numpy as np

from custseg.errors import SchemaError, shown

#: Longest expression accepted (characters, after trimming surrounding spaces).
MAX_LENGTH = 2000
#: Deepest nesting accepted: parentheses, and the depth of the tree (a leaf is depth 1).
MAX_DEPTH = 50
#: Longest derivation name accepted.
MAX_NAME_LENGTH = 100

#: Known functions -> (fewest, most) arguments; ``None`` for no upper bound.
FUNCTIONS: Mapping[str, tuple[int, int | None]] = MappingProxyType({
    "sum": (1, None),
    "mean": (1, None),
    "log1p": (1, 1),
    "years_since": (1, 2),
    "days_since": (1, 2),
})
#: Functions that take a header pattern (glob) as an argument.
GLOB_FUNCTIONS = frozenset({"sum", "mean"})
#: Functions of a date column, with an optional reference date in quotes.
DATE_FUNCTIONS = frozenset({"years_since", "days_since"})

_PARAMETER = "derivations"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_OPERATORS = "+-*/(),"
_BINARY_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_UNARY_PRECEDENCE = 3
_ATOM_PRECEDENCE = 4
_EPOCH = dt.date(1970, 1, 1)
_FIRST_DAY = (dt.date.min - _EPOCH).days  # 0001-01-01
_LAST_DAY = (dt.date.max - _EPOCH).days  # 9999-12-31
_BAD_NAME_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class DeriveError(SchemaError):
    """A derivation that cannot be parsed or applied; the message says where and what to write."""


# --------------------------------------------------------------------------------------------
# The tree


@dataclass(frozen=True)
class Number:
    """A number written in the expression; never negative (``-2`` is ``Unary("-", Number(2))``),
    so that every tree has exactly one text."""

    value: float

    def __post_init__(self) -> None:
        value = float(self.value)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"Number holds a finite value >= 0, not {self.value!r}")
        object.__setattr__(self, "value", value + 0.0)  # -0.0 -> 0.0


@dataclass(frozen=True)
class Column:
    """An input column, by its header exactly as written."""

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Column needs a non-empty header, not {self.name!r}")


@dataclass(frozen=True)
class Glob:
    """A pattern over headers, only as an argument of sum/mean.

    ``pattern`` is in the escaped form: ``*`` any run of characters, ``?`` any one, ``\\*``,
    ``\\?`` and ``\\\\`` a literal ``*``, ``?`` and backslash; it has at least one wildcard.
    """

    pattern: str

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, str) or not _is_canonical_pattern(self.pattern):
            raise ValueError(
                f"Glob needs a pattern with an unescaped * or ?, every backslash escaping "
                f"*, ? or a backslash; not {self.pattern!r}")


@dataclass(frozen=True)
class DateLiteral:
    """A reference date written ``"YYYY-MM-DD"`` (second argument of years_since/days_since)."""

    value: dt.date

    def __post_init__(self) -> None:
        value = self.value
        if isinstance(value, dt.datetime):
            value = value.date()
        if not isinstance(value, dt.date):
            raise ValueError(f"DateLiteral holds a datetime.date, not {value!r}")
        object.__setattr__(self, "value", value)


@dataclass(frozen=True)
class Unary:
    """``-operand`` (the only unary operator)."""

    op: str
    operand: Node

    def __post_init__(self) -> None:
        if self.op != "-":
            raise ValueError(f"Unary op is '-', not {self.op!r}")


@dataclass(frozen=True)
class Binary:
    """``left op right`` for op in + - * /."""

    op: str
    left: Node
    right: Node

    def __post_init__(self) -> None:
        if self.op not in _BINARY_PRECEDENCE:
            raise ValueError(f"Binary op is one of + - * /, not {self.op!r}")


@dataclass(frozen=True)
class Call:
    """``function(args...)`` for a function in :data:`FUNCTIONS`."""

    function: str
    args: tuple[Node, ...]

    def __post_init__(self) -> None:
        if self.function not in FUNCTIONS:
            raise ValueError(f"Call of an unknown function {self.function!r}")
        object.__setattr__(self, "args", tuple(self.args))


Node = Number | Column | Glob | DateLiteral | Unary | Binary | Call


@dataclass(frozen=True)
class Derivation:
    """``name = expr``: a new column and the expression that computes it."""

    name: str
    expr: Node

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or self.name != self.name.strip():
            raise DeriveError(f"derivation name {shown(self.name)} has spaces around it; "
                              "trim them.", parameter=_PARAMETER)
        _check_name(self.name, self.name, 0, "derivation name")

    @property
    def text(self) -> str:
        """The canonical ``name = expr``: ``parse_derivation(d.text) == d``."""
        return f"{self.name} = {to_text(self.expr)}"


@dataclass(frozen=True, eq=False)
class DateValues:
    """What the caller's ``dates(column)`` gives: day numbers and whether they are years only.

    ``days`` is float64 days since 1970-01-01 (NaN for an invalid cell; a fraction is floored
    to its day). For a column of bare years (``year_only``) it is 1 January of that year.
    """

    days: np.ndarray
    year_only: bool = False


@dataclass(frozen=True, eq=False)
class Evaluated:
    """A derived column.

    ``values`` is float64, NaN where not computed. ``undefined`` is True where every input cell
    was valid but the formula has no value (division by zero, log1p of -1 or less, overflow),
    so a NaN with ``undefined`` False means a source cell was missing or invalid.
    """

    values: np.ndarray
    undefined: np.ndarray


# --------------------------------------------------------------------------------------------
# Parsing


def parse_derivation(text: str) -> Derivation:
    """Parse ``NAME=EXPR``: split on the first ``=`` outside backticks, trim both sides.

    Raises :class:`DeriveError` with the 1-based character position (in ``text``) of the
    first problem and what was expected there.
    """
    if not isinstance(text, str):
        raise TypeError(f"a derivation is text, not {type(text).__name__}")
    equals, unclosed = _first_equals(text)
    if unclosed is not None:
        raise _error("derivation", text, unclosed,
                     'this "`" is never closed; a header in backticks ends with "`"')
    if equals < 0:
        raise _error("derivation", text, None,
                     'expected NAME=EXPR, e.g. total=MntWines + MntFruits (no "=" found '
                     "outside backticks)")
    left = text[:equals]
    name = left.strip()
    name_start = len(left) - len(left.lstrip())
    if not name:
        raise _error("derivation", text, equals,
                     'the name before "=" is empty; write NAME=EXPR, e.g. '
                     "age=years_since(Year_Birth)")
    _check_name(name, text, name_start, "derivation")
    right = text[equals + 1:]
    start = equals + 1 + len(right) - len(right.lstrip())
    end = start + len(right.strip())
    return Derivation(name, _Parser(text, start, end, "derivation").parse())


def parse_expression(text: str) -> Node:
    """Parse the right side of a derivation alone (positions count from its first character)."""
    if not isinstance(text, str):
        raise TypeError(f"an expression is text, not {type(text).__name__}")
    start = len(text) - len(text.lstrip())
    end = start + len(text.strip())
    return _Parser(text, start, end, "expression").parse()


def _first_equals(text: str) -> tuple[int, int | None]:
    """Index of the first "=" outside backticks (or -1), and of a backtick never closed before
    it (or None). A doubled backtick toggles twice, so it changes nothing."""
    at = 0
    while True:
        equals = text.find("=", at)
        tick = text.find("`", at)
        if equals < 0 or tick < 0 or equals < tick:
            return equals, None
        close = text.find("`", tick + 1)
        if close < 0:
            return -1, tick
        at = close + 1


def _check_name(name: str, text: str, offset: int, label: str) -> None:
    if not name:
        raise _error(label, text, None, "the name is empty; give the new column a name")
    if len(name) > MAX_NAME_LENGTH:
        raise _error(label, text, None,
                     f"the name is {len(name):,} characters long; a name has at most "
                     f"{MAX_NAME_LENGTH} characters")
    for i, ch in enumerate(name):
        if ch in "`\"'=":
            raise _error(label, text, offset + i,
                         f"the name may not contain backticks, quotes or \"=\" (got {shown(ch)});"
                         " name the new column with plain text, e.g. total_spend")
        if unicodedata.category(ch) in _BAD_NAME_CATEGORIES:
            raise _error(label, text, offset + i,
                         f"the name may not contain control or invisible characters (got "
                         f"{shown(ch)}); name the new column with plain text, e.g. total_spend")


def _error(label: str, text: str, at: int | None, what: str) -> DeriveError:
    quoted = shown(text, 100)
    if at is None:
        return DeriveError(f"{label} {quoted}: {what}.", parameter=_PARAMETER)
    near = ""
    if at > 80:  # past what the quote shows: say where
        near = f" (near {shown(text[max(0, at - 15):at + 15], 32)})"
    return DeriveError(f"{label} {quoted}: at character {at + 1:,}{near}, {what}.",
                       parameter=_PARAMETER)


@dataclass(frozen=True)
class _Token:
    kind: str  # "number" "ident" "column" "glob" "string" "op" "end"
    pos: int
    text: str
    value: Any = None


class _Parser:
    """Recursive descent over a lazily tokenised span of ``text``.

    Recursion happens only at parentheses and calls, both counted against MAX_DEPTH, so the
    Python stack stays a few hundred frames deep at most; unary minus is read in a loop.
    """

    def __init__(self, text: str, start: int, end: int, label: str) -> None:
        self.text, self.start, self.end, self.label = text, start, end, label
        self.cursor = start
        self.tokens: list[_Token] = []
        self.index = 0
        self.nesting = 0

    # -- driving -----------------------------------------------------------------------------

    def parse(self) -> Node:
        if self.end - self.start > MAX_LENGTH:
            self.fail(None, f"the expression is {self.end - self.start:,} characters long; at "
                            f"most {MAX_LENGTH:,} are allowed (split it into several "
                            "derivations)")
        if self.peek().kind == "end":
            self.fail(self.start, 'the expression is empty; write what to compute after "=", '
                                  "e.g. total=MntWines + MntFruits")
        node, _ = self.expression()
        token = self.peek()
        if token.kind != "end":
            if token.text == ")":
                self.fail(token.pos, 'this ")" closes no "(" (remove it or add the "(")')
            if token.text == ",":
                self.fail(token.pos, 'a "," separates the arguments of a function call, '
                                     "and there is no call open here")
            self.fail(token.pos, f"expected an operator (+ - * /) or the end {got(token)}")
        return node

    def fail(self, at: int | None, what: str) -> NoReturn:
        raise _error(self.label, self.text, at, what)

    def peek(self, ahead: int = 0) -> _Token:
        while len(self.tokens) <= self.index + ahead:
            self.tokens.append(self.lex())
        return self.tokens[self.index + ahead]

    def advance(self) -> _Token:
        token = self.peek()
        self.index += 1
        return token

    def check_depth(self, depth: int, at: int) -> None:
        if depth > MAX_DEPTH:
            self.fail(at, f"the expression is nested deeper than {MAX_DEPTH} levels (a chain "
                          "of operators counts too); use sum(...) for a long addition or "
                          "split it into several derivations")

    # -- grammar -----------------------------------------------------------------------------
    # expression := term (("+" | "-") term)*
    # term       := unary (("*" | "/") unary)*
    # unary      := "-"* primary
    # primary    := number | column | function "(" [argument ("," argument)*] ")"
    #             | "(" expression ")"

    def expression(self) -> tuple[Node, int]:
        node, depth = self.term()
        while (token := self.peek()).kind == "op" and token.text in ("+", "-"):
            self.advance()
            right, right_depth = self.term()
            node, depth = Binary(token.text, node, right), 1 + max(depth, right_depth)
            self.check_depth(depth, token.pos)
        return node, depth

    def term(self) -> tuple[Node, int]:
        node, depth = self.unary()
        while (token := self.peek()).kind == "op" and token.text in ("*", "/"):
            self.advance()
            right, right_depth = self.unary()
            node, depth = Binary(token.text, node, right), 1 + max(depth, right_depth)
            self.check_depth(depth, token.pos)
        return node, depth

    def unary(self) -> tuple[Node, int]:
        signs = 0
        first = self.peek().pos
        while (token := self.peek()).kind == "op" and token.text == "-":
            signs += 1
            self.check_depth(signs + 1, token.pos)
            self.advance()
        node, depth = self.primary()
        for _ in range(signs):
            node = Unary("-", node)
        if signs:
            self.check_depth(depth + signs, first)
        return node, depth + signs

    def primary(self) -> tuple[Node, int]:
        token = self.peek()
        if token.kind in ("number", "column"):
            self.advance()
            return token.value, 1
        if token.kind == "ident":
            after = self.peek(1)
            if after.kind == "op" and after.text == "(":
                return self.call()
            self.advance()
            return Column(token.text), 1
        if token.kind == "glob":
            self.fail(token.pos, f"a header pattern ({token.text}) can only be a whole "
                                 "argument of sum(...) or mean(...); to name a header that "
                                 "contains * or ?, write \\* or \\? inside the backticks")
        if token.kind == "string":
            self.fail(token.pos, _DATE_PLACE)
        if token.kind == "op" and token.text == "(":
            self.advance()
            self.enter(token.pos)
            node, depth = self.expression()
            closing = self.peek()
            if not (closing.kind == "op" and closing.text == ")"):
                self.fail(closing.pos, f'expected ")" to close the "(" at character '
                                       f"{token.pos + 1:,} {got(closing)}")
            self.advance()
            self.nesting -= 1
            return node, depth
        self.fail(token.pos, f'expected a number, a column, a function or "(" {got(token)}')

    def enter(self, at: int) -> None:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            self.fail(at, f"the parentheses are nested deeper than {MAX_DEPTH} levels; "
                          "simplify the expression or split it into several derivations")

    def call(self) -> tuple[Node, int]:
        name = self.advance()
        opening = self.advance()
        function = name.text
        if function not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            self.fail(name.pos, f"unknown function {shown(function)}; the functions are "
                                f"{known} (a header followed by \"(\" needs backticks)")
        fewest, most = FUNCTIONS[function]
        self.enter(opening.pos)
        args: list[Node] = []
        depth = 1
        token = self.peek()
        if token.kind == "op" and token.text == ")":
            self.advance()
        else:
            while True:
                if most is not None and len(args) >= most:
                    self.fail(self.peek().pos, f"{function} takes {_count(fewest, most)}; "
                                               "remove this argument")
                arg, arg_depth = self.argument(function, len(args))
                args.append(arg)
                depth = max(depth, arg_depth)
                token = self.advance()
                if token.kind == "op" and token.text == ")":
                    break
                if not (token.kind == "op" and token.text == ","):
                    self.fail(token.pos, f'expected "," or ")" in {function}(...) '
                                         f"{got(token)}")
        self.nesting -= 1
        if len(args) < fewest:
            self.fail(name.pos, f"{function} takes {_count(fewest, most)}, got {len(args)}"
                                f"; e.g. {_EXAMPLES[function]}")
        self.check_depth(depth + 1, name.pos)
        return Call(function, tuple(args)), depth + 1

    def argument(self, function: str, index: int) -> tuple[Node, int]:
        token = self.peek()
        if token.kind in ("glob", "string"):
            after = self.peek(1)
            whole = after.kind == "op" and after.text in (",", ")")
            if token.kind == "glob" and whole and function in GLOB_FUNCTIONS:
                self.advance()
                return token.value, 1
            if token.kind == "string" and whole and function in DATE_FUNCTIONS and index == 1:
                self.advance()
                return self.date_literal(token), 1
        if function in DATE_FUNCTIONS and index == 1:
            self.fail(token.pos, f"the second argument of {function} is a reference date in "
                                 f'double quotes, e.g. {function}(Dt_Customer, "2014-12-31") '
                                 f"{got(token)}")
        node, depth = self.expression()
        if function in DATE_FUNCTIONS and index == 0 and not isinstance(node, Column):
            self.fail(token.pos, f"the first argument of {function} is one column of dates "
                                 f"(or years), e.g. {_EXAMPLES[function]}; compute with its "
                                 "result instead")
        return node, depth

    def date_literal(self, token: _Token) -> DateLiteral:
        if not _DATE.fullmatch(token.value):
            self.fail(token.pos, f'expected a date written "YYYY-MM-DD" {got(token)}')
        try:
            return DateLiteral(dt.date.fromisoformat(token.value))
        except ValueError:
            self.fail(token.pos, f"{shown(token.value)} is not a date on the calendar; write "
                                 'a real date as "YYYY-MM-DD"')

    # -- tokens ------------------------------------------------------------------------------

    def lex(self) -> _Token:
        text, end = self.text, self.end
        at = self.cursor
        while at < end and text[at].isspace():
            at += 1
        self.cursor = at
        if at >= end:
            return _Token("end", end, "")
        ch = text[at]
        if ch in _OPERATORS:
            self.cursor = at + 1
            return _Token("op", at, ch)
        if match := _NUMBER.match(text, at, end):
            stop = match.end()
            if stop < end and (text[stop].isalnum() or text[stop] in "._`"):
                self.fail(at, f"malformed number {shown(text[at:stop + 1])}; write a number "
                              "like 2, 0.5 or 1e-3, with an operator before anything that "
                              "follows it")
            value = float(match.group())
            if not math.isfinite(value):
                self.fail(at, f"the number {shown(match.group())} is too large")
            self.cursor = stop
            return _Token("number", at, match.group(), Number(value))
        if match := _IDENT.match(text, at, end):
            stop = match.end()
            if stop < end and (text[stop].isalnum() or text[stop] == "_"):  # e.g. "Âge", "Année"
                self.fail(at, _ascii_hint(text, at, end))
            self.cursor = stop
            return _Token("ident", at, match.group())
        if ch == "`":
            return self.backticked(at)
        if ch == '"':
            close = text.find('"', at + 1, end)
            if close < 0:
                self.fail(at, 'this \'"\' is never closed; write a date as "YYYY-MM-DD"')
            self.cursor = close + 1
            return _Token("string", at, text[at:close + 1], text[at + 1:close])
        if ch == "=":
            self.fail(at, 'a derivation has one "=", between the name and the expression; a '
                          'header containing "=" goes in backticks')
        if ch == "'":
            self.fail(at, "unexpected \"'\"; a date goes in double quotes (\"2014-12-31\") and "
                          "a header in backticks (`Net $`)")
        if ch.isalnum() or ch == "_":
            self.fail(at, _ascii_hint(text, at, end))
        self.fail(at, f"unexpected character {shown(ch)}; a header with such characters goes "
                      "in backticks (`Net $`)")

    def backticked(self, at: int) -> _Token:
        text, end = self.text, self.end
        name: list[str] = []
        pattern: list[str] = []
        wildcard = False
        i = at + 1
        while True:
            if i >= end:
                self.fail(at, 'this "`" is never closed; a header in backticks ends with "`" '
                              "(a backtick inside a header is written ``)")
            ch = text[i]
            if ch == "`":
                if i + 1 < end and text[i + 1] == "`":
                    name.append("`")
                    pattern.append("`")
                    i += 2
                    continue
                i += 1
                break
            if ch == "\\":
                if i + 1 < end and text[i + 1] in "*?\\":
                    name.append(text[i + 1])
                    pattern.append("\\" + text[i + 1])
                    i += 2
                    continue
                name.append("\\")
                pattern.append("\\\\")
            else:
                wildcard = wildcard or ch in "*?"
                name.append(ch)
                pattern.append(ch)
            i += 1
        self.cursor = i
        if not name:
            self.fail(at, "empty header in backticks; write the header between them, e.g. "
                          "`Net $`")
        if wildcard:
            return _Token("glob", at, text[at:i], Glob("".join(pattern)))
        return _Token("column", at, text[at:i], Column("".join(name)))


_DATE_PLACE = ('a date in quotes can only be the second argument of years_since or days_since, '
               'e.g. days_since(Dt_Customer, "2014-12-31")')
_EXAMPLES = {
    "sum": "sum(`Mnt*`) or sum(Kidhome, Teenhome)",
    "mean": "mean(`Mnt*`) or mean(Kidhome, Teenhome)",
    "log1p": "log1p(Income)",
    "years_since": 'years_since(Year_Birth) or years_since(Dt_Customer, "2014-12-31")',
    "days_since": 'days_since(Dt_Customer) or days_since(Dt_Customer, "2014-12-31")',
}


def got(token: _Token) -> str:
    return "(got the end)" if token.kind == "end" else f"(got {shown(token.text, 30)})"


def _count(fewest: int, most: int | None) -> str:
    plural = "s" if (most or fewest) != 1 else ""
    if most is None:
        return f"at least {fewest} argument{plural}"
    if most == fewest:
        return f"{fewest} argument{plural}"
    return f"{fewest} to {most} arguments"


def _ascii_hint(text: str, at: int, end: int) -> str:
    stop = at
    while stop < end and (text[stop].isalnum() or text[stop] == "_"):
        stop += 1
    word = text[at:stop]
    return (f"{shown(word)} is not a plain ASCII name; write a header with other letters in "
            f"backticks: `{word}`")


def _is_canonical_pattern(pattern: str) -> bool:
    wildcard = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1] not in "*?\\":
                return False
            i += 2
            continue
        wildcard = wildcard or ch in "*?"
        i += 1
    return wildcard


# --------------------------------------------------------------------------------------------
# Walking a tree (explicit stacks: a hand-built tree of any depth is safe)


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    return ()


def _fold(node: Node, combine: Callable[[Node, list[Any]], Any],
          children: Callable[[Node], tuple[Node, ...]] = _children) -> Any:
    """Post-order: ``combine(node, results of its children)``, without recursion."""
    stack: list[tuple[Node, bool]] = [(node, False)]
    results: list[Any] = []
    while stack:
        current, expanded = stack.pop()
        kids = children(current)
        if kids and not expanded:
            stack.append((current, True))
            stack.extend((kid, False) for kid in reversed(kids))
            continue
        taken = results[len(results) - len(kids):] if kids else []
        if kids:
            del results[len(results) - len(kids):]
        results.append(combine(current, taken))
    return results[0]


def _preorder(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(_children(current)))


def to_text(node: Node) -> str:
    """Canonical text: ``parse_expression(to_text(n)) == n``.

    Spaces around binary operators, ", " between arguments, parentheses only where precedence
    or left associativity needs them; integers without a decimal point.
    """
    return _fold(node, _text_of)[0]


def _text_of(node: Node, kids: list[tuple[str, int]]) -> tuple[str, int]:
    if isinstance(node, Number):
        return _number_text(node.value), _ATOM_PRECEDENCE
    if isinstance(node, Column):
        return _column_text(node.name), _ATOM_PRECEDENCE
    if isinstance(node, Glob):
        return "`" + node.pattern.replace("`", "``") + "`", _ATOM_PRECEDENCE
    if isinstance(node, DateLiteral):
        return f'"{node.value.isoformat()}"', _ATOM_PRECEDENCE
    if isinstance(node, Unary):
        text, precedence = kids[0]
        if precedence < _UNARY_PRECEDENCE:
            text = f"({text})"
        return "-" + text, _UNARY_PRECEDENCE
    if isinstance(node, Binary):
        precedence = _BINARY_PRECEDENCE[node.op]
        (left, left_precedence), (right, right_precedence) = kids
        if left_precedence < precedence:
            left = f"({left})"
        if right_precedence <= precedence:  # left associative: a - (b - c) keeps its brackets
            right = f"({right})"
        return f"{left} {node.op} {right}", precedence
    if isinstance(node, Call):
        return f"{node.function}({', '.join(text for text, _ in kids)})", _ATOM_PRECEDENCE
    raise TypeError(f"not a derivation node: {node!r}")


def _number_text(value: float) -> str:
    if value.is_integer() and value < 1e16:
        return str(int(value))
    return repr(value)


def _column_text(name: str) -> str:
    if _IDENT.fullmatch(name):
        return name
    escaped = (name.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
               .replace("`", "``"))
    return f"`{escaped}`"


# --------------------------------------------------------------------------------------------
# Columns


def columns_used(node: Node, headers: Sequence[str]) -> tuple[str, ...]:
    """The input columns ``node`` reads, in order of first use, each once.

    A glob expands to the headers it matches (case-sensitive, whole header, in header order);
    one that matches none raises :class:`DeriveError`. Named columns are returned as written:
    whether they exist is the caller's check.
    """
    seen: dict[str, None] = {}
    for current in _preorder(node):
        if isinstance(current, Column):
            seen.setdefault(current.name)
        elif isinstance(current, Glob):
            for header in _expand(current, headers):
                seen.setdefault(header)
    return tuple(seen)


def date_columns(node: Node) -> tuple[str, ...]:
    """The columns read as dates: first arguments of years_since/days_since, each once."""
    seen: dict[str, None] = {}
    for current in _preorder(node):
        if (isinstance(current, Call) and current.function in DATE_FUNCTIONS
                and current.args and isinstance(current.args[0], Column)):
            seen.setdefault(current.args[0].name)
    return tuple(seen)


def resolve(node: Node, headers: Sequence[str]) -> Node:
    """``node`` with every glob replaced by the columns it matches among ``headers``.

    The result reads exactly the columns it names, so a model can store it: scoring a file
    that lacks one of them then fails by name instead of silently summing fewer columns.
    """

    def combine(current: Node, kids: list[Any]) -> Any:
        if isinstance(current, Glob):
            return tuple(Column(header) for header in _expand(current, headers))
        if isinstance(current, Call):
            args: list[Node] = []
            for kid in kids:
                args.extend(kid if isinstance(kid, tuple) else (kid,))
            return Call(current.function, tuple(args))
        if any(isinstance(kid, tuple) for kid in kids):
            raise ValueError("a glob can only be an argument of sum or mean")
        if isinstance(current, Unary):
            return Unary(current.op, kids[0])
        if isinstance(current, Binary):
            return Binary(current.op, kids[0], kids[1])
        return current

    resolved = _fold(node, combine)
    if isinstance(resolved, tuple):
        raise ValueError("a glob can only be an argument of sum or mean")
    return resolved


def _expand(glob: Glob, headers: Sequence[str]) -> list[str]:
    translated = _fnmatch_pattern(glob.pattern)
    matched = list(dict.fromkeys(
        str(header) for header in headers if fnmatch.fnmatchcase(str(header), translated)))
    if not matched:
        names = [str(header) for header in headers]
        listed = ", ".join(shown(name, 30) for name in names[:8])
        more = f" and {len(names) - 8:,} more" if len(names) > 8 else ""
        raise DeriveError(
            f"the pattern {to_text(glob)} matches no column (the columns are "
            f"{listed or 'none'}{more}); patterns are case-sensitive, * stands for any run of "
            "characters and ? for one.", parameter=_PARAMETER)
    return matched


def _fnmatch_pattern(pattern: str) -> str:
    """Our escaped glob in fnmatch's syntax, where only brackets escape."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(f"[{pattern[i + 1]}]")
            i += 2
            continue
        out.append("[[]" if ch == "[" else ch)
        i += 1
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Evaluation


def evaluate(node: Node, numbers: Callable[[str], np.ndarray],
             dates: Callable[[str], DateValues], as_of: dt.date, n: int) -> Evaluated:
    """Compute ``node`` over ``n`` rows.

    Parameters
    ----------
    node
        A tree without globs (:func:`resolve` it first).
    numbers
        ``numbers(column)``: float64 values, NaN for a missing or invalid cell.
    dates
        ``dates(column)``: the :class:`DateValues` of a column read by years_since/days_since.
    as_of
        The reference date of years_since/days_since written without one: a model passes
        the date it was fitted, so a row scores the same next year.
    n
        The number of rows.
    """
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    if not isinstance(as_of, dt.date):
        raise TypeError(f"as_of is a datetime.date, not {as_of!r}")
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"n is a number of rows, not {n}")

    def children(current: Node) -> tuple[Node, ...]:
        if isinstance(current, Call) and current.function in DATE_FUNCTIONS:
            return ()  # its column is read as dates, not numbers
        return _children(current)

    def combine(current: Node, kids: list[tuple[np.ndarray, np.ndarray]]):
        return _evaluate_node(current, kids, numbers, dates, as_of, n)

    with np.errstate(all="ignore"):
        values, undefined = _fold(node, combine, children)
    values.flags.writeable = False
    undefined.flags.writeable = False
    return Evaluated(values, undefined)


def _evaluate_node(node: Node, kids: list[tuple[np.ndarray, np.ndarray]],
                   numbers: Callable[[str], np.ndarray], dates: Callable[[str], DateValues],
                   as_of: dt.date, n: int) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(node, Number):
        return np.full(n, node.value), np.zeros(n, dtype=bool)
    if isinstance(node, Column):
        values = _rows(numbers(node.name), n, f"numbers({node.name!r})")
        return np.where(np.isfinite(values), values, np.nan), np.zeros(n, dtype=bool)
    if isinstance(node, Unary):
        return _finish(-kids[0][0], kids)
    if isinstance(node, Binary):
        left, right = kids[0][0], kids[1][0]
        if node.op == "+":
            result = left + right
        elif node.op == "-":
            result = left - right
        elif node.op == "*":
            result = left * right
        else:
            result = left / right
        return _finish(result, kids)
    if isinstance(node, Call):
        if node.function in DATE_FUNCTIONS:
            return _date_function(node, dates, as_of, n)
        if node.function == "log1p":
            return _finish(np.log1p(kids[0][0]), kids)
        total = kids[0][0].copy()
        for values, _ in kids[1:]:  # in order: the same sums as written left to right
            total += values
        if node.function == "mean":
            total /= len(kids)
        return _finish(total, kids)
    if isinstance(node, Glob):
        raise ValueError(f"resolve the glob {to_text(node)} against the headers before "
                         "evaluating (resolve(node, headers))")
    raise ValueError(f"{to_text(node)} can only be the second argument of years_since or "
                     "days_since")


def _finish(result: np.ndarray, kids: list[tuple[np.ndarray, np.ndarray]]):
    """NaN where not finite; undefined there unless a source cell was already missing."""
    missing = np.zeros(result.shape, dtype=bool)
    for values, undefined in kids:
        missing |= np.isnan(values) & ~undefined
    finite = np.isfinite(result)
    return np.where(finite, result, np.nan), ~finite & ~missing


def _rows(values: Any, n: int, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n,):
        raise ValueError(f"{what} gave shape {array.shape}, expected ({n},)")
    return array


def _date_function(node: Call, dates: Callable[[str], DateValues], as_of: dt.date,
                   n: int) -> tuple[np.ndarray, np.ndarray]:
    column = node.args[0]
    if not isinstance(column, Column):
        raise ValueError(f"the first argument of {node.function} must be a column")
    reference = as_of
    if len(node.args) > 1:
        if not isinstance(node.args[1], DateLiteral):
            raise ValueError(f"the second argument of {node.function} must be a DateLiteral")
        reference = node.args[1].value
    given = dates(column.name)
    if not isinstance(given, DateValues):
        raise TypeError(f"dates({column.name!r}) must give DateValues, not {type(given)}")
    days = np.floor(_rows(given.days, n, f"dates({column.name!r}).days"))
    valid = np.isfinite(days) & (days >= _FIRST_DAY) & (days <= _LAST_DAY)
    day_numbers = np.where(valid, days, 0).astype(np.int64)
    reference_day = (reference - _EPOCH).days
    if node.function == "days_since":
        result = (reference_day - day_numbers).astype(np.float64)
    else:
        year, month, day = _calendar(day_numbers)
        if given.year_only:
            result = reference.year - year
        else:
            key = month * 100 + day
            reference_key = reference.month * 100 + reference.day
            # whole years completed, as for an age; counted toward zero for a later date
            forward = reference.year - year - (reference_key < key)
            backward = -(year - reference.year - (key < reference_key))
            result = np.where(day_numbers <= reference_day, forward, backward)
        result = result.astype(np.float64)
    return np.where(valid, result, np.nan), np.zeros(n, dtype=bool)


def _calendar(day_numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month (1-12) and day (1-31) of day numbers since 1970-01-01."""
    days = day_numbers.astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (days - months).astype(np.int64) + 1
    return year, month, day
