"""Segment profiles: statistics, levels relative to the whole base, names and strategies.

A level says where a segment sits in the whole customer base: its median's mid-rank
(:func:`mid_rank`: the share of customers below it plus half the share equal to it),
``low`` under 1/3, ``high`` over 2/3, ``mid`` between. It holds on skewed data and
ties, where a distance from the mean in standard deviations misleads. There is no
threshold in dataset units, so the same rulebook names segments of any table. Names and
strategies come from a :class:`Rulebook` (data: the packaged ``rules.toml`` by default)
and are unique within a model.

A rule's conditions name roles (``recency``, ``monetary``…) or the well-known fields
(``annual_income`` is the feature with role ``income``), so one rulebook names segments
of any table whose features have those roles. Where several clustered features share a
role (six ``Mnt*`` spend columns are all ``monetary``), the role's level is that of the
*mean* of their mid-ranks, so that one column cannot outvote the others. Rules are used
only when every clustered feature has a role other than ``other``; otherwise segments
are named by their two strongest traits in the columns' own words.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from custseg.cluster.labels import NOISE, outliers_last
from custseg.errors import CustsegError, shown
from custseg.segments.categories import category_fact, category_profiles, over_represented
from custseg.segments.schema import MAX_RULEBOOK_CHARS, RulebookDoc, problem_text
from custseg.table.fields import AGE, GENDER, ID, INCOME, NUMERIC_FIELDS, SCORE, fmt_number
from custseg.table.magnitude import back, column_units
from custseg.table.roles import FIELD_ROLES
from custseg.table.spec import InputSpec, label_of, role_of, unit_of
from custseg.table.text import NAME_MAX, TEXT_MAX


class RulebookError(CustsegError):
    """A rulebook file is malformed."""


def rule_role(key: str) -> str:
    """The role a rule's condition names: a well-known field's (``annual_income`` ->
    ``income``), else the key itself (a role)."""
    return FIELD_ROLES.get(key, key)


@dataclass(frozen=True)
class Rule:
    name: str
    #: Field or role -> a level, or the levels any of which holds.
    when: Mapping[str, str | tuple[str, ...]]
    description: str
    strategy: str

    def holds(self, levels: Mapping[str, str]) -> bool:
        """Whether every condition holds for ``levels`` (role -> level); a condition on
        a role no feature has does not."""
        for key, wanted in self.when.items():
            level = levels.get(rule_role(key))
            if level is None or level not in ((wanted,) if isinstance(wanted, str) else wanted):
                return False
        return True


#: The conditions of a score map segment, in the rulebook's words.
SCORE_KEYS = ("r_score", "f_score", "m_score")


@dataclass(frozen=True)
class ScoreSegment:
    """A segment of the RFM score map: the cells whose scores meet any of ``when``
    (each: score key -> the scores any of which holds; a key not named holds always)."""

    name: str
    when: tuple[Mapping[str, tuple[int, ...]], ...]
    description: str
    strategy: str

    def holds(self, r: int, f: int, m: int) -> bool:
        given = dict(zip(SCORE_KEYS, (r, f, m), strict=True))
        return any(all(given[k] in wanted for k, wanted in table.items())
                   for table in self.when)


def score_map_cells(segments: Sequence[ScoreSegment]) -> tuple[int, ...]:
    """The position in ``segments`` of the one segment of each of the 125 cells (cell
    order: "111", "112", … "555"); refused, naming the cells, unless each cell is in
    exactly one."""
    from custseg.cluster.rfm import CELLS

    owner: list[int] = []
    missing: list[str] = []
    for cell in CELLS:
        r, f, m = (int(c) for c in cell)
        holders = [i for i, seg in enumerate(segments) if seg.holds(r, f, m)]
        if len(holders) > 1:
            a, b = holders[:2]
            raise RulebookError(
                f"the rulebook's RFM score map puts cell {cell} (r_score {r}, f_score {f}, "
                f"m_score {m}) in two segments, rfm_segments[{a}] "
                f"({shown(segments[a].name, 40)}) and rfm_segments[{b}] "
                f"({shown(segments[b].name, 40)}); each cell needs exactly one: narrow "
                "one of their conditions.")
        if not holders:
            missing.append(cell)
        owner.append(holders[0] if holders else -1)
    if missing:
        listed = ", ".join(missing[:12]) + (" …" if len(missing) > 12 else "")
        raise RulebookError(
            f"the rulebook's RFM score map leaves {len(missing)} of the 125 cells without a "
            f"segment ({listed}; a cell is its r_score, f_score and m_score); every cell "
            "needs exactly one segment: widen a segment's conditions or add one.")
    return tuple(owner)


@dataclass(frozen=True)
class Rulebook:
    """Naming and strategy rules (see ``rules.toml`` for the format)."""

    rules: tuple[Rule, ...]
    threshold: float = 0.5
    words: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    modifiers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    outliers: Mapping[str, str] = field(default_factory=dict)
    #: The segment of the customers with returns only (a table from a log): its name,
    #: description and strategy.
    returns_only: Mapping[str, str] = field(default_factory=dict)

    #: The RFM score map (empty in rulebooks without one): see :func:`score_map_cells`.
    score_map: tuple[ScoreSegment, ...] = ()

    def score_cells(self) -> tuple[int, ...]:
        """Each cell's segment, as a position in :attr:`score_map` (refused, with what to
        add, when the rulebook has no map)."""
        if not self.score_map:
            raise RulebookError(
                "the rulebook has no RFM score map (rfm_segments), which --algorithm rfm "
                "names its segments by; add one (see the default rulebook: custseg rules).",
                parameter="rules")
        return score_map_cells(self.score_map)

    @classmethod
    def from_toml(cls, text: str) -> Rulebook:
        """Parse and check a rulebook's TOML text (see :meth:`from_dict`)."""
        if len(text) > MAX_RULEBOOK_CHARS:
            raise RulebookError(
                f"the rulebook is {len(text):,} characters long; a rulebook holds at most "
                f"{MAX_RULEBOOK_CHARS:,} (the default one is about 7,000)."
            )
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RulebookError(f"the rulebook is not valid TOML: {exc}.") from None
        except RecursionError:
            raise RulebookError("the rulebook nests tables or arrays too deeply to be a "
                                "rulebook; see the default one (custseg rules).") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rulebook:
        """A rulebook from its document, refused unless every field has its shape
        (:class:`custseg.segments.schema.RulebookDoc`): known fields only, levels of
        low/mid/high, features custseg clusters on, bounded names without control
        characters. The message names the first field that is wrong."""
        try:
            doc = RulebookDoc.model_validate(data)
        except ValidationError as exc:
            raise RulebookError(f"the rulebook's {problem_text(exc)}.") from None
        for i, rule in enumerate(doc.rules):  # noise and a segment must not look alike
            for what, other in (("the outliers", doc.outliers.name),
                                ("the returns only", doc.returns_only.name)):
                if rule.name.strip().casefold() == other.strip().casefold():
                    raise RulebookError(
                        f"the rulebook's rules[{i}] is named {shown(rule.name, 60)}, the name "
                        f"of {what}; give the rule, or {what}, another name.")
        if doc.outliers.name.strip().casefold() == doc.returns_only.name.strip().casefold():
            raise RulebookError("the rulebook names the outliers and the returns only alike; "
                                "give one of them another name.")
        for i, r in enumerate(doc.rules):
            roles = [rule_role(k) for k in r.when]
            twice = next((k for k in r.when if roles.count(rule_role(k)) > 1), None)
            if twice is not None:
                same = [k for k in r.when if rule_role(k) == rule_role(twice)]
                raise RulebookError(
                    f"the rulebook's rules[{i}].when names the role {rule_role(twice)} "
                    f"twice ({' and '.join(same)}); keep one of them.")
        score_map = tuple(
            ScoreSegment(
                name=seg.name,
                when=tuple({k: tuple(v) if isinstance(v, list) else (v,)
                            for k, v in table.model_dump(exclude_none=True).items()}
                           for table in (seg.when if isinstance(seg.when, list) else [seg.when])),
                description=seg.description, strategy=seg.strategy)
            for seg in doc.rfm_segments)
        names = [seg.name.strip().casefold() for seg in score_map]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise RulebookError(
                    f"the rulebook's rfm_segments[{i}] is named "
                    f"{shown(score_map[i].name, 60)}, like rfm_segments[{names.index(name)}]; "
                    "a segment's cells belong in one entry (its when may be a list of "
                    "tables), and names are unique.")
            if name == doc.outliers.name.strip().casefold():
                raise RulebookError(
                    f"the rulebook's rfm_segments[{i}] is named {shown(score_map[i].name, 60)}"
                    ", the name of the outliers; give it another name.")
        if score_map:
            score_map_cells(score_map)  # every cell in exactly one segment, or refused
        return cls(
            score_map=score_map,
            rules=tuple(Rule(name=r.name, when={k: v if isinstance(v, str) else tuple(v)
                                                for k, v in r.when.items()},
                             description=r.description, strategy=r.strategy)
                        for r in doc.rules),
            threshold=float(doc.levels.threshold),
            words={k: dict(v) for k, v in doc.words.items()},
            modifiers={k: dict(v) for k, v in doc.modifiers.items()},
            outliers=doc.outliers.model_dump(),
            returns_only=doc.returns_only.model_dump(),
        )

    def to_toml(self) -> str:
        """The rulebook as TOML text, readable by :meth:`from_toml`."""
        import tomli_w

        return tomli_w.dumps({"version": 1, **self.to_dict()}, multiline_strings=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "levels": {"threshold": self.threshold},
            "words": {k: dict(v) for k, v in self.words.items()},
            "modifiers": {k: dict(v) for k, v in self.modifiers.items()},
            "outliers": dict(self.outliers),
            **({"returns_only": dict(self.returns_only)} if self.returns_only else {}),
            "rules": [
                {"name": r.name,
                 "when": {k: v if isinstance(v, str) else list(v) for k, v in r.when.items()},
                 "description": r.description, "strategy": r.strategy}
                for r in self.rules
            ],
            **({"rfm_segments": [
                {"name": seg.name, "when": [{k: list(v) for k, v in t.items()} for t in seg.when],
                 "description": seg.description, "strategy": seg.strategy}
                for seg in self.score_map]} if self.score_map else {}),
        }

    def match(self, levels: Mapping[str, str], usable: Sequence[str] | None = None,
              ) -> Rule | None:
        """Most specific rule (most conditions, then file order) whose conditions all
        hold. ``levels`` maps roles to levels (see :func:`role_levels`); with ``usable``
        (features that are also fields, as callers before roles gave them), only those
        keys count."""
        if usable is not None:
            levels = {rule_role(f): levels[f] for f in usable if f in levels}
        ranked = sorted(enumerate(self.rules), key=lambda item: (-len(item[1].when), item[0]))
        for _, rule in ranked:
            if rule.holds(levels):
                return rule
        return None


@dataclass(frozen=True)
class BaseStats:
    """The whole customer base the segments are measured against."""

    n: int
    means: Mapping[str, float]
    stds: Mapping[str, float]
    mins: Mapping[str, float]
    maxs: Mapping[str, float]
    gender_mix: Mapping[str, float]
    #: Column -> value -> share of everyone (see :mod:`custseg.segments.categories`).
    categories: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BaseStats:
        return cls(**{k: (dict(v) if isinstance(v, Mapping) else v) for k, v in data.items()})


@dataclass(frozen=True)
class SegmentProfile:
    id: int
    name: str
    size: int
    share: float
    means: Mapping[str, float]
    mins: Mapping[str, float]
    maxs: Mapping[str, float]
    z: Mapping[str, float]
    levels: Mapping[str, str]
    gender_mix: Mapping[str, float]
    description: str
    strategy: str
    facts: tuple[str, ...]
    #: Readable rules from the surrogate tree: {"text", "precision", "coverage"}.
    rules: tuple[Mapping[str, Any], ...] = ()
    #: True when an analyst renamed the segment or rewrote its strategy.
    edited: bool = False
    #: Each feature's median, in the column's own units (empty in older model files).
    medians: Mapping[str, float] = field(default_factory=dict)
    #: Column -> ``{"value", "share", "lift", "count"}`` per value (see
    #: :mod:`custseg.segments.categories`).
    categories: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)

    @property
    def is_outliers(self) -> bool:
        return self.id == NOISE

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["facts"] = list(self.facts)
        out["rules"] = [dict(r) for r in self.rules]
        out["categories"] = {c: [dict(e) for e in v] for c, v in self.categories.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentProfile:
        values = dict(data)
        values["facts"] = tuple(values.get("facts", ()))
        values["rules"] = tuple(dict(r) for r in values.get("rules", ()))
        values["categories"] = {c: tuple(dict(e) for e in v)
                                for c, v in values.get("categories", {}).items()}
        return cls(**values)


def numeric_columns(values: pd.DataFrame) -> list[str]:
    """The numeric features of a validated frame: the well-known fields present, in their
    order, then the model's other numeric features. Its categorical features (the text
    the validation kept, in object columns) are not numbers: they have no mean or level,
    and stay in the frame for the category profiles."""
    fields = [f for f in NUMERIC_FIELDS if f in values.columns]
    return fields + [c for c in values.columns if c not in (*NUMERIC_FIELDS, ID, GENDER)
                     and pd.api.types.is_numeric_dtype(values[c])]


def base_stats(values: pd.DataFrame) -> BaseStats:
    """Statistics of the whole (valid) customer base."""
    numeric = numeric_columns(values)
    frame = values[numeric].astype("float64")
    mix = {}
    if GENDER in values.columns:
        mix = values[GENDER].value_counts(normalize=True, dropna=True).to_dict()
    unit = column_units(frame.to_numpy())  # 1, but for columns of 1e150 and past
    shrunk = frame / unit
    means, stds = back(shrunk.mean().to_numpy(), unit), back(shrunk.std(ddof=0).to_numpy(), unit)
    return BaseStats(
        n=len(values),
        means={f: float(m) for f, m in zip(numeric, means, strict=True)},
        stds={f: float(s) for f, s in zip(numeric, stds, strict=True)},
        mins={f: float(frame[f].min()) for f in numeric},
        maxs={f: float(frame[f].max()) for f in numeric},
        gender_mix={str(k): float(v) for k, v in mix.items()},
    )


def level_of(z: float, threshold: float) -> str:
    """The level of a standardised difference (kept for callers that only have z)."""
    if not np.isfinite(z):
        return "mid"
    return "high" if z > threshold else ("low" if z < -threshold else "mid")


#: Mid-ranks below this are ``low``, above ``1 - LOW_RANK`` are ``high``.
LOW_RANK = 1 / 3


def mid_rank(value: float, ordered: np.ndarray) -> float:
    """Where ``value`` sits in the base (``ordered``: its values, sorted): the share of
    customers below it plus half the share equal to it. Robust to skew and ties: where
    48% of customers have 0, a median of 0 ranks 0.24; identical values rank alike."""
    n = len(ordered)
    if n == 0 or not np.isfinite(value):
        return 0.5
    below = np.searchsorted(ordered, value, side="left")
    upto = np.searchsorted(ordered, value, side="right")
    return float((below + 0.5 * (upto - below)) / n)


def level_of_rank(rank: float) -> str:
    """``low`` under a third, ``high`` over two thirds, else ``mid``."""
    return "low" if rank < LOW_RANK else ("high" if rank > 1 - LOW_RANK else "mid")


def role_levels(rank: Mapping[str, float], features: Sequence[str],
                spec: InputSpec | None = None) -> dict[str, str]:
    """Each role of the clustered ``features`` and its level: that of the mean mid-rank
    of the features with the role (one feature: its own level). ``other`` is left out."""
    by_role: dict[str, list[float]] = {}
    for f in features:
        role = role_of(f, spec)
        if role != "other" and f in rank:
            by_role.setdefault(role, []).append(rank[f])
    return {role: level_of_rank(float(np.mean(r))) for role, r in by_role.items()}


def profile_segments(
    values: pd.DataFrame,
    labels: np.ndarray,
    features: Sequence[str],
    rulebook: Rulebook,
    spec: InputSpec | None = None,
    cells: pd.DataFrame | None = None,
) -> tuple[BaseStats, tuple[SegmentProfile, ...]]:
    """Profile every segment of ``labels`` against the base ``values``.

    ``features`` are the clustered features: names come only from their levels (age,
    when present, may still separate two segments that would share a name). ``cells``
    (text, a row per customer of ``values``) holds the columns to profile by (see
    :mod:`custseg.segments.categories`).
    """
    categories = category_profiles(cells, labels) if cells is not None and len(cells.columns) \
        else None
    base = base_stats(values)
    if categories is not None:
        base = replace(base, categories={c: dict(v) for c, v in categories.base.items()})
    numeric = numeric_columns(values)
    frame = values[numeric].astype("float64").assign(_label=np.asarray(labels))
    grouped = frame.groupby("_label", sort=True)
    mins, maxs = grouped.min(), grouped.max()
    # a mean or a median of two values of 1e308 overflows: taken over the column divided
    # by a power of two (1 for ordinary columns), then multiplied back
    unit = column_units(frame[numeric].to_numpy())
    shrunk = (frame[numeric] / unit).assign(_label=frame["_label"]).groupby("_label", sort=True)
    means = pd.DataFrame(back(shrunk.mean().to_numpy(), unit), index=mins.index, columns=numeric)
    medians = pd.DataFrame(back(shrunk.median().to_numpy(), unit), index=mins.index,
                           columns=numeric)
    ordered = {f: np.sort(frame[f].to_numpy()) for f in numeric}
    sizes = grouped.size()
    mixes = pd.DataFrame()
    if GENDER in values.columns:
        mixes = pd.crosstab(np.asarray(labels), values[GENDER].to_numpy(), normalize="index")

    drafts = []
    ranks: dict[int, dict[str, float]] = {}
    units = dict(zip(numeric, unit.tolist(), strict=True))
    for label in sizes.index:
        z = {  # in the column's power-of-two unit, so that 1e308 - (-1e308) stays finite
            f: (float(means.at[label, f]) / units[f] - base.means[f] / units[f])
            / (base.stds[f] / units[f]) if base.stds[f] > 0 else 0.0
            for f in numeric
        }
        # the segment's median against the base: its mid-rank (see mid_rank)
        ranks[int(label)] = rank = {
            f: mid_rank(float(medians.at[label, f]), ordered[f]) for f in numeric}
        levels = {f: level_of_rank(rank[f]) for f in numeric}
        mix = {}
        if label in mixes.index:
            mix = {str(k): float(v) for k, v in mixes.loc[label].items() if v > 0}
        drafts.append(
            {
                "id": int(label),
                "size": int(sizes[label]),
                "share": float(sizes[label] / len(frame)),
                "means": {f: float(means.at[label, f]) for f in numeric},
                "medians": {f: float(medians.at[label, f]) for f in numeric},
                "categories": {} if categories is None
                else dict(categories.segments.get(int(label), {})),
                "mins": {f: float(mins.at[label, f]) for f in numeric},
                "maxs": {f: float(maxs.at[label, f]) for f in numeric},
                "z": z,
                "levels": levels,
                "gender_mix": mix,
            }
        )
    named = _name_segments(drafts, features, rulebook, ranks, spec, base)
    for d in drafts:  # what sets a segment far apart is said, when its name is silent
        told = named[d["id"]]
        roles = told.pop("roles", frozenset())
        if d["id"] != NOISE:
            told["description"] = with_unsaid_traits(told["description"], told["name"], d,
                                                     base, roles, rulebook, spec)
    segments = tuple(
        SegmentProfile(**d, **named[d["id"]], facts=_facts(d, base, features, spec))
        for d in sorted(drafts, key=lambda d: outliers_last(d["id"]))
    )
    return base, segments


#: How far (in the base's standard deviations) a segment's average must sit from the
#: base's for its description to say it when its name does not.
FAR_SD = 1.0
#: Most such traits a description adds.
MAX_UNSAID = 3


def unsaid_traits(name: str, d: Mapping[str, Any], base: BaseStats,
                  roles: frozenset[str] = frozenset(), rulebook: Rulebook | None = None,
                  spec: InputSpec | None = None) -> list[str]:
    """The features whose average sits beyond :data:`FAR_SD` from the base's and that
    ``name`` says nothing about, strongest first, in words: "age 78 years on average,
    well above the base's 45". A name speaks of a feature when the rule that gave it
    has a condition on the feature's role (``roles``), or when it holds the feature's
    label or one of the rulebook's words or modifiers for it ("Mature", "high income")."""
    out: list[tuple[float, str]] = []
    for f, z in d.get("z", {}).items():
        if not np.isfinite(z) or abs(z) <= FAR_SD or f not in base.means:
            continue
        role = role_of(f, spec)
        if role != "other" and role in roles:
            continue
        words = [label_of(f)]
        if rulebook is not None:
            words += list(rulebook.words.get(f, {}).values())
            words += list(rulebook.modifiers.get(f, {}).values())
        if any(w and re.search(rf"(?<!\w){re.escape(w)}(?!\w)", name, re.IGNORECASE)
               for w in words):
            continue
        unit = unit_of(f, spec)
        unit = f" {unit}" if unit else ""
        where = "above" if z > 0 else "below"
        out.append((abs(z), f"{label_of(f)} {fmt_number(round(d['means'][f], 1))}{unit} on "
                            f"average, well {where} the base's "
                            f"{fmt_number(round(base.means[f], 1))}{unit}"))
    return [text for _, text in sorted(out, key=lambda item: -item[0])[:MAX_UNSAID]]


def with_unsaid_traits(description: str, name: str, d: Mapping[str, Any], base: BaseStats,
                       roles: frozenset[str] = frozenset(), rulebook: Rulebook | None = None,
                       spec: InputSpec | None = None) -> str:
    """``description`` followed by what :func:`unsaid_traits` finds ("Also notable: age
    78 years on average, well above the base's 45."), so that no name hides the
    segment's strongest trait."""
    traits = unsaid_traits(name, d, base, roles, rulebook, spec)
    lead = description.rstrip()
    if lead and lead[-1] not in ".!?":
        lead += "."
    while traits:  # within what a model file holds of a description
        told = f"{lead} Also notable: {'; '.join(traits)}.".lstrip()
        if len(told) <= TEXT_MAX:
            return told
        traits = traits[:-1]
    return description


def _name_segments(
    drafts: list[dict[str, Any]], features: Sequence[str], rulebook: Rulebook,
    ranks: Mapping[int, Mapping[str, float]] | None = None,
    spec: InputSpec | None = None,
    base: BaseStats | None = None,
) -> dict[int, dict[str, str]]:
    ranks = ranks or {}
    out: dict[int, dict[str, str]] = {}
    for d in drafts:
        if d["id"] == NOISE:
            o = rulebook.outliers
            out[d["id"]] = {"name": o["name"], "description": o["description"],
                            "strategy": o["strategy"]}
            continue
        # a feature of role other has no words in a rulebook, and rules about the
        # others would hide it: every segment is then named by its strongest traits
        worded = all(role_of(f, spec) != "other" for f in features)
        rank = ranks.get(d["id"]) or {f: _rank_of_level(d["levels"][f]) for f in features}
        rule = rulebook.match(role_levels(rank, features, spec)) if worded else None
        if rule is None:
            out[d["id"]] = {
                "name": _generic_name(d, features, rulebook, ranks.get(d["id"], {})),
                "description": _trait_description(d, features, ranks.get(d["id"], {}), worded),
                "strategy": ("Build the offer on what sets these customers apart (their "
                             "strongest traits above) and test it on a sample of the "
                             "segment before a full campaign."),
            }
        else:
            out[d["id"]] = {"name": rule.name, "description": rule.description,
                            "strategy": rule.strategy,
                            "roles": frozenset(rule_role(k) for k in rule.when)}
    _make_unique(drafts, out, rulebook, features, ranks, base, spec)
    return out


def _rank_of_level(level: str) -> float:
    """A mid-rank inside ``level``'s third (for callers that give levels without ranks)."""
    return {"low": 1 / 6, "high": 5 / 6}.get(level, 0.5)


def _trait_description(d: Mapping[str, Any], features: Sequence[str],
                       rank: Mapping[str, float], worded: bool) -> str:
    """What a segment no rule names is like: its strongest traits against everyone
    ("High PURCHASES_TRX and low CASH_ADVANCE compared with the whole base")."""
    strongest = [f for f in sorted(features, key=lambda f: -abs(rank.get(f, 0.5) - 0.5))
                 if d["levels"].get(f, "mid") != "mid"][:3]
    why = ("no naming rule covers these columns" if not worded
           else "no naming rule matched this combination of levels")
    if not strongest:
        return f"Close to the average customer on every feature ({why})."
    traits = [f"{d['levels'][f]} {label_of(f)}" for f in strongest]
    text = ", ".join(traits[:-1]) + (" and " if len(traits) > 1 else "") + traits[-1]
    return f"{text[:1].upper()}{text[1:]} compared with the whole base ({why})."


def _generic_name(d: Mapping[str, Any], features: Sequence[str], rulebook: Rulebook,
                  rank: Mapping[str, float]) -> str:
    """The strongest traits first: the features whose mid-rank is furthest from ½. Over
    features other than the well-known fields, the two strongest in the columns' words:
    "High CASH_ADVANCE · Low PURCHASES"."""
    strongest = sorted(features, key=lambda f: -abs(rank.get(f, 0.5) - 0.5))
    if any(f not in NUMERIC_FIELDS for f in features):
        traits = [f"{d['levels'][f].capitalize()} {label_of(f)}" for f in strongest
                  if d["levels"].get(f, "mid") != "mid"][:2]
        return " · ".join(traits) if traits else "Typical customers"
    words = [
        rulebook.words.get(f, {}).get(d["levels"][f], f"{d['levels'][f]} {f}")
        for f in sorted(features, key=lambda f: -abs(rank.get(f, 0.5) - 0.5))
        if f in d["levels"]
    ]
    return f"Segment {d['id']}: " + ", ".join(words)


def _make_unique(
    drafts: list[dict[str, Any]], names: dict[int, dict[str, str]], rulebook: Rulebook,
    features: Sequence[str] = (), ranks: Mapping[int, Mapping[str, float]] | None = None,
    base: BaseStats | None = None, spec: InputSpec | None = None,
) -> None:
    """Age modifiers first, then the strongest traits that tell the segments sharing a
    name apart, then (for segments alike in every level) the average of the feature
    that tells them apart (see :func:`_tell_by_value`), then numbered suffixes, each in
    segment-id order."""
    by_id = {d["id"]: d for d in drafts if d["id"] != NOISE}
    modifiers = rulebook.modifiers.get("age", {})
    for ids in _clashes(names, by_id):
        age_levels = {by_id[i]["levels"].get("age") for i in ids}
        if len(age_levels) > 1 and modifiers:
            for i in ids:
                prefix = modifiers.get(by_id[i]["levels"].get("age", ""), "")
                if prefix and not names[i]["name"].startswith(prefix + " "):
                    names[i]["name"] = f"{prefix} {names[i]['name']}"
    for _ in range(2):  # at most two traits added to a name
        for ids in _clashes(names, by_id):
            for i in ids:
                trait = _telling_trait(by_id[i], [by_id[j] for j in ids if j != i], features,
                                       (ranks or {}).get(i, {}), rulebook, names[i]["name"])
                if trait:
                    names[i]["name"] = f"{names[i]['name']} · {trait}"
    if base is not None:
        for ids in _clashes(names, by_id):
            _tell_by_value(ids, by_id, names, features, base, spec)
    # numbered suffixes: the first of each name keeps it, later ones get " (2)", " (3)"…,
    # skipping any number another segment (a rule named "X (2)", the outliers) holds
    # (names compared as sets of their " · " parts: see _name_key)
    taken = {_name_key(names[NOISE]["name"])} if NOISE in names else set()
    wanted = {i: names[i]["name"] for i in by_id}
    wanted_keys = {_name_key(w) for w in wanted.values()}
    for i in sorted(by_id):
        name, n = wanted[i], 2
        while _name_key(name) in taken or (name != wanted[i] and _name_key(name) in wanted_keys):
            name, n = f"{wanted[i]} ({n})", n + 1
        taken.add(_name_key(name))
        names[i]["name"] = name


#: Most averages added to a name to tell apart segments alike in every level.
MAX_VALUES = 2
#: Short labels of the well-known fields in a name ("Cautious Affluent · Age 38"); the
#: unit is left out where it says nothing a reader needs (years, points).
_VALUE_LABELS = {AGE: ("Age", ""), INCOME: ("Income", None), SCORE: ("Spending", "")}


def _tell_by_value(ids: Sequence[int], by_id: Mapping[int, Mapping[str, Any]],
                   names: dict[int, dict[str, str]], features: Sequence[str],
                   base: BaseStats, spec: InputSpec | None = None,
                   used: tuple[str, ...] = ()) -> None:
    """Segments that share a name and every level (HDBSCAN finds many small groups of
    one kind) told apart by the clustered feature that tells most of them apart, its
    average shown: "Cautious Affluent · Age 31", "Cautious Affluent · Age 44". The
    feature is the one whose rounded averages take the most distinct values in the
    group, then whose averages spread furthest in the base's standard deviations.
    Segments still alike (the same rounded average) are told apart by the next such
    feature, :data:`MAX_VALUES` at most; a number is left for those alike in every
    one."""
    if len(used) >= MAX_VALUES:
        return
    best: tuple[tuple[int, float], str, dict[int, str]] | None = None
    for f in features:
        std = base.stds.get(f, 0.0)
        if f in used or not std or not np.isfinite(std):
            continue
        means = [by_id[i].get("means", {}).get(f) for i in ids]
        if any(m is None or not np.isfinite(m) for m in means):
            continue
        told, finer = ({i: _value_text(f, float(m), digits, spec)
                        for i, m in zip(ids, means, strict=True)} for digits in (2, 3))
        if len(set(finer.values())) > len(set(told.values())):
            told = finer  # three significant digits where two leave some alike
        key = (len(set(told.values())), (max(means) - min(means)) / std)
        if key[0] > 1 and (best is None or key > best[0]):
            best = (key, f, told)
    if best is None:
        return
    _, f, told = best
    if any(len(f"{names[i]['name']} · {told[i]}") > NAME_MAX - 8 for i in ids):
        return  # room left for a number (a rule's name may be long)
    alike: dict[str, list[int]] = {}
    for i in ids:
        names[i]["name"] = f"{names[i]['name']} · {told[i]}"
        alike.setdefault(told[i], []).append(i)
    for same in alike.values():
        if len(same) > 1:
            _tell_by_value(same, by_id, names, features, base, spec, (*used, f))


def _value_text(f: str, mean: float, digits: int = 2, spec: InputSpec | None = None) -> str:
    """A feature's average in a name: whole years, k$ and points for the well-known
    fields, else ``digits`` significant digits (a skewed feature's small and large
    averages alike): "Age 38", "Income 103k$", "Monetary 3,700", "Recency 41 days"."""
    label, unit = _VALUE_LABELS.get(f, (label_of(f), None))
    unit = unit_of(f, spec) if unit is None else unit
    if unit and label.casefold().endswith((f"_{unit}".casefold(), f" {unit}".casefold())):
        label = label[:-len(unit) - 1]  # "recency_days" in days: "Recency 41 days"
    places = 0 if f in NUMERIC_FIELDS or mean == 0 else \
        digits - 1 - int(np.floor(np.log10(abs(mean))))
    value = f"{round(mean, places) + 0.0:,.{max(places, 0)}f}"  # + 0.0: never "-0"
    if places > 6 or abs(mean) >= 1e9:  # 2.5e-09 and 1.2e+12, not a row of zeros
        value = f"{mean:.{digits}g}"
    elif "." in value:
        value = value.rstrip("0").rstrip(".")
    gap = " " if unit.isalpha() else ""  # "41 days", "103k$"
    label = label[:1].upper() + label[1:]
    return f"{label} {value}{gap}{unit}" if unit else f"{label} {value}"


def _telling_trait(d: Mapping[str, Any], others: Sequence[Mapping[str, Any]],
                   features: Sequence[str], rank: Mapping[str, float], rulebook: Rulebook,
                   name: str) -> str | None:
    """The segment's strongest trait (the feature whose mid-rank is furthest from ½, not
    mid) whose level some segment of the same name does not share, in words: "High
    Teenhome", "Young", "Low income"; None when no trait tells it apart."""
    levels = d["levels"]
    strongest = sorted(features, key=lambda f: -abs(rank.get(f, 0.5) - 0.5))
    for f in strongest:
        level = levels.get(f, "mid")
        if level == "mid" or all(o["levels"].get(f, "mid") == level for o in others):
            continue
        if f == AGE and rulebook.modifiers.get(AGE):
            continue  # the age modifiers ("Young", "Mature") have had their say
        word = rulebook.words.get(f, {}).get(level) if f in NUMERIC_FIELDS else None
        text = word or f"{level} {label_of(f)}"
        text = text[:1].upper() + text[1:]
        if f" {text}" not in name and not name.startswith(text):
            return text
    return None


def _name_key(name: str) -> frozenset[str]:
    """A name as the set of its " · " parts: "Loyal · Low Monetary · Low Recency" and
    "Loyal · Low Recency · Low Monetary" are one name."""
    return frozenset(name.split(" · "))


def _clashes(names: Mapping[int, Mapping[str, str]], by_id: Mapping[int, Any]) -> list[list[int]]:
    groups: dict[frozenset[str], list[int]] = {}
    for i in sorted(by_id):
        groups.setdefault(_name_key(names[i]["name"]), []).append(i)
    return [ids for ids in groups.values() if len(ids) > 1]


def _facts(d: Mapping[str, Any], base: BaseStats, features: Sequence[str],
           spec: InputSpec | None = None) -> tuple[str, ...]:
    facts = []
    for f in d["means"]:
        tag = "" if f in features else " (not clustered)"
        unit = unit_of(f, spec)
        unit = f" {unit}" if unit else ""
        facts.append(
            f"{label_of(f)}: {fmt_number(round(d['means'][f], 1))}{unit} on average vs "
            f"{fmt_number(round(base.means[f], 1))}{unit} for all customers "
            f"({d['z'][f]:+.1f} SD, {d['levels'][f]}){tag}"
        )
    # the over-represented categories (a rare value never: see over_represented) keep
    # their place within the model's 20 facts
    said = [category_fact(c, e, base.categories)
            for c, e in over_represented(d.get("categories", {}), d["size"])]
    return tuple(facts[:MAX_FACTS - len(said)] + said)


#: Most facts a segment holds (the model file's bound).
MAX_FACTS = 20


def returns_only_profile(apart: pd.DataFrame, clustered: pd.DataFrame, base: BaseStats,
                         rulebook: Rulebook, spec: InputSpec | None = None) -> SegmentProfile:
    """The segment of the customers with returns only (id -2), set apart before
    clustering (see :class:`~custseg.table.spec.ReturnsOnly`): its statistics where they
    are defined (recency, tenure and the average order value are not, and are left out
    of its means and levels), levels against the ``clustered`` customers, and the
    rulebook's ``returns_only`` name and strategy, never a cluster name. Its share is of
    the clustered customers and these together."""
    from custseg.cluster.labels import RETURNS_ONLY

    numeric = [f for f in numeric_columns(clustered) if f in apart.columns]
    frame = apart[numeric].astype("float64")
    defined = [f for f in numeric if frame[f].notna().any()]
    nan = float("nan")  # a statistic of no value: null in JSON, "-" in tables
    means = {f: float(frame[f].mean()) if f in defined else nan for f in numeric}
    medians = {f: float(frame[f].median()) if f in defined else nan for f in numeric}
    ordered = {f: np.sort(clustered[f].to_numpy(dtype="float64")) for f in defined}
    z = {f: ((means[f] - base.means[f]) / base.stds[f] if base.stds.get(f) else 0.0)
         if f in defined else nan for f in numeric}
    levels = {f: level_of_rank(mid_rank(medians[f], ordered[f])) for f in defined}
    mix = {}
    if GENDER in apart.columns and len(apart):
        mix = {str(k): float(v) for k, v in
               apart[GENDER].value_counts(normalize=True, dropna=True).items() if v > 0}
    size = len(apart)
    words = rulebook.returns_only or {}
    facts = [f"{size:,} customers with returns only: no purchase in the period, so no "
             "recency; set apart, never clustered"]
    for f in defined:
        unit = unit_of(f, spec)
        unit = f" {unit}" if unit else ""
        facts.append(f"{label_of(f)}: {fmt_number(round(means[f], 1))}{unit} on average vs "
                     f"{fmt_number(round(base.means[f], 1))}{unit} for the clustered "
                     "customers")
    return SegmentProfile(
        id=RETURNS_ONLY, name=str(words.get("name", "Returns only")),
        size=size, share=0.0, means=means, medians=medians,
        mins={f: float(frame[f].min()) if f in defined else nan for f in numeric},
        maxs={f: float(frame[f].max()) if f in defined else nan for f in numeric},
        z=z, levels=levels, gender_mix=mix,
        description=str(words.get("description", "Customers with returns only.")),
        strategy=str(words.get("strategy", "Check the returns before any campaign.")),
        facts=tuple(facts[:MAX_FACTS]),
    )
