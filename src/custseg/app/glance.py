"""The Dashboard's overview drawn to fit the main area at 1024 px and up (issue 14).

At 1024 px the main area leaves a table about 560 px: room for a segment's name and
five or six narrow columns, not the nine of :func:`custseg.model.summaries.overview`
(their natural widths came to 1,483 px on the demo data). So the overview is drawn as
two sortable tables over the same rows, in the same order: the averages (customers,
share and each feature's average with its level tint) and the plan (share of total
value, stability and the strategy in a line). Every column gets a width in pixels that
fits the narrowest main area; on a wider screen Streamlit shares the room left equally
among the columns, so a long segment name and the strategy show more of their line.
The segment column is not pinned: it would then keep its width (pinning matters only
to a table that scrolls sideways, and these never do).
When the features do not fit one table (more than about five), they go on in a next
table of the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from custseg.model import summaries
from custseg.table.fields import compact_number

#: The overview's width (px) at a 1024 px browser: 562 measured in Chromium for the
#: table's scroller (its vertical scroll bar overlays the rows), less a margin.
BUDGET = 556
#: Glide's text: about 7 px a character at the theme's 14 px font (measured: 76 px for
#: "customers", 130 for "Annual income (k$)"), plus the cell's padding.
CHAR_PX, PADDING_PX = 7.0, 18
#: The segment column: wide enough for "3 · Trend-Driven Budget Spenders", never more, so
#: that the plan's share of value, stability and at least STRATEGY_MIN_PX of strategy fit
#: beside it (556 − 230 = 95 + 81 + 150).
SEGMENT_PX = (150, 230)
#: A feature's column never narrower than this (its header then cut; its help says it).
FEATURE_MIN_PX = 60
#: Glide's narrowest column.
GLIDE_MIN_PX = 50
#: The strategy column, at least (its whole line shows on a wider screen, or in the card).
STRATEGY_MIN_PX = 150
#: A low level tinted blue, a high one orange (readable on a light and a dark theme
#: alike); a mid level left plain.
LEVEL_TINTS = {"low": "background-color: rgba(78, 121, 167, 0.28)",
               "high": "background-color: rgba(242, 142, 43, 0.32)"}
#: The well-known fields' headers, shorter still (their help has the full label).
SHORT_LABELS = {"Annual income": "Income", "Spending score": "Spending"}
#: Stability as the narrow column shows it (the caption says how it is measured).
STABILITY_SHOWN = {"moderately stable": "moderate", "not measured": "–",
                   "set apart, not clustered": "set apart"}


def text_px(text: str) -> int:
    """The width (px) a column needs to show ``text`` whole."""
    return math.ceil(len(text) * CHAR_PX) + PADDING_PX


#: A headline metric's room at 1024 px for its text: a third of the main area (three in
#: a row) or a half (two), less the gap and the border's padding.
THIRD_PX, HALF_PX = 137, 230
#: The metric's value is 36 px: about 0.56 em a digit, 0.5 a lower-case letter, 0.3 for
#: narrow ones (". , : " and i, l, r, t, f, j), 0.65 an upper-case letter and 0.85 for
#: M and W; its label is 14 px (about 6.5 px a character) beside a 22 px help icon.
#: Measured: "38.9 yrs", "61.5 k$" and "Average income" fit a third; "14.7 years" and
#: "tenure_years (average)" did not (cut with an ellipsis).
VALUE_FONT_PX, LABEL_CHAR_PX, HELP_PX = 36, 6.5, 22


def _em(c: str) -> float:
    if c in ".,:; ilrtfj|!'":
        return 0.3
    if c in "MW":
        return 0.85
    if c.isdigit():
        return 0.56
    return 0.65 if c.isupper() else 0.5


def headline_px(label: str, value: str) -> float:
    """The width the wider of a headline metric's label and value takes."""
    return max(VALUE_FONT_PX * sum(_em(c) for c in value),
               len(label) * LABEL_CHAR_PX + HELP_PX)


def headline_rows(figures: Sequence[tuple[str, str, str]]) -> list[list[tuple[str, str, str]]]:
    """The headline averages in rows: three to a row when each fits a third of the main
    area at 1024 px, else two, else one (a metric cuts what overflows)."""
    widest = max((headline_px(label, value) for label, value, _ in figures), default=0.0)
    per = 3 if widest <= THIRD_PX else (2 if widest <= HALF_PX else 1)
    return [list(figures[i:i + per]) for i in range(0, len(figures), per)]


@dataclass(frozen=True)
class Part:
    """One table of the overview: its columns (the segment first) and their widths."""

    columns: tuple[str, ...]
    widths: dict[str, int]


def _shrunk(wanted: dict[str, int], room: int, least: int) -> dict[str, int] | None:
    """``wanted`` widths made to fit ``room``: as they are when they fit, else each cut
    down towards ``least`` (the narrowest kept whole first); None when ``least`` each
    does not fit."""
    if sum(wanted.values()) <= room:
        return dict(wanted)
    if least * len(wanted) > room:
        return None
    widths = {c: min(w, least) for c, w in wanted.items()}
    spare = room - sum(widths.values())
    order = sorted(wanted, key=wanted.get)
    for done, column in enumerate(order):
        extra = min(wanted[column] - widths[column], spare // (len(order) - done))
        widths[column] += extra
        spare -= extra
    return widths


def parts(glance: summaries.Overview, budget: int = BUDGET) -> list[Part]:
    """The overview's tables and every column's width, each table within ``budget``:
    the averages (customers, share, then as many features as fit; the features left go
    on in a next table), then the plan (share of value, stability, strategy)."""
    table = glance.table
    shown = _shown(glance)
    segment = min(max(text_px(max(table["segment"], key=len, default="")), SEGMENT_PX[0]),
                  SEGMENT_PX[1])
    room = budget - segment

    def wanted(columns: list[str]) -> dict[str, int]:
        return {c: max(GLIDE_MIN_PX, text_px(label_of_column(c, glance.value_column)),
                       text_px(max(shown[c], key=len, default=""))) for c in columns}

    groups: list[list[str]] = [["customers", "share"]]
    for feature in glance.levels:
        fits = _shrunk(wanted([*groups[-1], feature]), room, FEATURE_MIN_PX) is not None
        if fits or not any(c in glance.levels for c in groups[-1]):
            groups[-1].append(feature)
        else:
            groups.append([feature])
    out = [Part(("segment", *group), {"segment": segment, **(
        _shrunk(wanted(group), room, FEATURE_MIN_PX) or dict.fromkeys(group, FEATURE_MIN_PX))})
        for group in groups]
    plan = wanted([c for c in (glance.value_column, "stability") if c])
    strategy = max(room - sum(plan.values()), STRATEGY_MIN_PX)
    out.append(Part(("segment", *plan, "strategy"),
                    {"segment": segment, **plan, "strategy": strategy}))
    return out


def label_of_column(column: str, value_column: str | None = None) -> str:
    """A column's short header (the help under it says the rest): a feature's label
    without its unit, "value share" for the share of total value."""
    if value_column is not None and column == value_column:
        return "value share"
    label = column.rsplit(" (", 1)[0] if column.endswith(")") else column
    return SHORT_LABELS.get(label, label)


def _number(digits: int):
    # past a million in M, bn or T: a cell too narrow for 19,876,755.9 showed ",876,755.9"
    return lambda v: "–" if v is None or v != v else compact_number(v, digits)


def _formats(glance: summaries.Overview) -> dict:
    formats = {c: _number(glance.digits[c]) for c in glance.levels}
    formats["customers"] = "{:,}"
    formats["share"] = summaries.share_text
    formats["stability"] = lambda v: STABILITY_SHOWN.get(v, v)
    if glance.value_column:
        formats[glance.value_column] = (lambda v: "–" if v is None or v != v
                                        else summaries.share_text(v))
    return formats


def _shown(glance: summaries.Overview) -> dict[str, list[str]]:
    """Each column's cells as the tables show them."""
    formats = _formats(glance)
    shown = {}
    for column in glance.table.columns:
        form = formats.get(column, str)
        shown[column] = [v if isinstance(v, str) and column == "share"  # as the table has it
                         else form.format(v) if isinstance(form, str) else str(form(v))
                         for v in glance.table[column]]
    return shown


def _help(column: str, glance: summaries.Overview) -> str | None:
    if column in glance.levels:
        return (f"{column}: the segment's average. Orange: high against the whole base, "
                "blue: low, plain: mid.")
    if column == glance.value_column:
        return f"The {column}: the segment's part of the sum over every customer."
    return {
        "segment": "The segment's number and name (a long name is cut here: its card "
                   "below has it whole).",
        "customers": "Customers in the segment.",
        "share": "The segment's share of every customer.",
        "stability": "How often resampling the customers finds the segment again: "
                     "stable, moderate or fragile; – until it is measured.",
        "strategy": "The strategy's first line (the card below has it whole; click a "
                    "cell to read it here).",
    }.get(column)


def show(glance: summaries.Overview, shares: Sequence[float], key: str = "overview") -> None:
    """Draw the overview's tables. ``shares`` are the segments' shares of the base (in
    the table's order), so that the share column sorts as numbers."""
    table = glance.table.copy()
    table["share"] = list(shares)
    formats = _formats(glance)
    rows = len(table)
    for i, part in enumerate(parts(glance)):
        frame = table[list(part.columns)]
        styled = frame.style.format({c: f for c, f in formats.items() if c in frame.columns})
        for column in part.columns:
            if column in glance.levels:
                tints = [LEVEL_TINTS.get(level, "") for level in glance.levels[column]]
                styled = styled.apply(lambda _, t=tints: t, subset=[column], axis=0)
        config = {}
        for column in part.columns:
            config[column] = st.column_config.Column(
                label_of_column(column, glance.value_column), width=part.widths[column],
                help=_help(column, glance))
        with st.container(key=f"{key}_{i}"):
            st.dataframe(styled, hide_index=True, key=f"{key}_table_{i}",
                         height=min(38 + 35 * rows, 600), column_config=config)
