"""Small display helpers shared by the pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import streamlit as st

from custseg.errors import CustsegError
from custseg.model.summaries import LARGE_OUTLIER_SHARE, share_text

T = TypeVar("T")

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")
#: Where GitHub-flavoured markdown would start a link of its own in plain text: after
#: "://", between "www" and its dot, after an e-mail's "@". Streamlit finds those links
#: in the text left once escapes are read, so escaping cannot stop them.
_AUTOLINK = re.compile(r"(?<=://)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)
#: U+2060 WORD JOINER: no width, no glyph, no line break; it only breaks the pattern.
JOINER = "\u2060"


def plain(text: object) -> str:
    """Text made inert for Streamlit's markdown: shown as written, never interpreted,
    never turned into a link ("www.x.com", "http://…" and "a@b.com" get an invisible
    word joiner where the autolink would start)."""
    return _MARKDOWN.sub(r"\\\1", _AUTOLINK.sub(JOINER, str(text)))


#: Where a markdown link's text meets its target: "[a](http://x)".
_LINK = re.compile(r"(?<=\])(?=\()")


def label(text: object) -> str:
    """User text (a column's header) as a widget's label: never a link, and read by a
    screen reader as written. Streamlit renders a label as markdown but also puts it,
    as given, in the input's aria-label, where :func:`plain`'s backslashes would be read
    out (and a test's ``get_by_label`` miss); so only invisible word joiners go in,
    where a link would start. Emphasis (``*x*``) is not neutralised here."""
    return _LINK.sub(JOINER, _AUTOLINK.sub(JOINER, str(text)))


#: Library parameter -> where the dashboard sets it. Parameters it has no control for
#: (``mapping``, of which it sets only the id column, ``ranges``, ``max_decompressed_mb``, which comes from
#: CUSTSEG_MAX_DECOMPRESSED_MB where the app is started) are left out: the dashboard never
#: tells the user to change what it cannot change.
CONTROLS = {
    "features": "sidebar › Features",
    "derivations": "sidebar › Derived features, roles, transforms › Derived features",
    "transforms": "sidebar › Derived features, roles, transforms › Transform",
    "roles": "sidebar › Derived features, roles, transforms › Role",
    "units": "sidebar › Derived features, roles, transforms › Unit",
    "income_unit": "sidebar › Reading the file › Income unit",
    "date_formats": "sidebar › Reading the file › Date formats",
    "use_gender": "sidebar › Use gender",
    "params": "sidebar › Segmentation",
    "sample_size": "sidebar › Advanced › Rows the clusterer sees",
    "rules": "Model Lab › Save / load › Use a rulebook",
}


def app_spelling(parameter: str, key: str | None) -> str | None:
    """How the dashboard says "change this setting": the control's place, or nothing."""
    control = CONTROLS.get(parameter)
    if control is None or key is None:
        return control
    return f"{control}: {key}"


def show_error(exc: Exception) -> None:
    """A user-facing error: the message only, as text, in the dashboard's terms."""
    if isinstance(exc, CustsegError):
        st.error(plain(exc.render(app_spelling)), icon=":material/error:")
    else:
        st.error(
            plain(f"Something went wrong ({type(exc).__name__}). The current segmentation is "
                  "unchanged; please report this."),
            icon=":material/error:",
        )


def read_upload(upload, read: Callable[..., T], *args) -> T | None:
    """An uploaded file read by an io reader (``read(name, data, *args)``, one of
    :mod:`custseg.io.uploads`); when it is refused, its message is shown and None returned.

    Every uploader goes through here, so each says why a file is refused in custseg's
    words (the upload limit first), never with an exception.
    """
    from custseg.app import state

    try:
        state.check_upload_size(upload.size)
        return read(upload.name, upload.getvalue(), *args)
    except CustsegError as exc:
        show_error(exc)
        return None


def number(value: float | None, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{suffix}"


def edit_form(view, segment) -> None:
    """Rename a segment or rewrite its strategy; saved with the model file."""
    from custseg.app import state

    with st.expander("Edit name and strategy", icon=":material/edit:"):
        with st.form(f"edit_{segment.id}", border=False):
            name = st.text_input("Name", value=segment.name, max_chars=80)
            strategy = st.text_area("Strategy", value=segment.strategy, max_chars=600)
            if st.form_submit_button("Save", type="primary"):
                change = {"name": name, "strategy": strategy}
                try:  # a blank or repeated name is refused here, not kept as an edit
                    view.model.with_edits({segment.id: change})  # that every page refuses
                except CustsegError as exc:
                    show_error(exc)
                    return
                edits = st.session_state[state.EDITS].setdefault(view.model_key.unedited(), {})
                edits[segment.id] = change
                st.rerun()


def chart(fig, key: str) -> None:
    st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False})


def log_panel(summary) -> None:
    """What the aggregation of a transaction log did: lines read, used and excluded by
    reason, the customers, the columns taken and the as-of date."""
    import pandas as pd

    excluded = sum(summary.excluded.values())
    with st.container(border=True):
        st.markdown("**From a transaction log**")
        c = st.columns(4)
        c[0].metric("Lines read", f"{summary.read:,}")
        c[1].metric("Lines used", f"{summary.used:,}")
        c[2].metric("Lines excluded", f"{excluded:,}")
        c[3].metric("Customers", f"{summary.customers:,}")
        taken = summary.columns
        st.caption(plain(
            f"Columns taken: customer {taken.get('customer')}, date {taken.get('date')}, "
            f"invoice {taken.get('invoice') or 'none (a purchase day counts as one order)'}, "
            f"value {taken.get('value')}. Recency and tenure counted to {summary.as_of}"
            + (f". {summary.duplicate_lines:,} identical lines kept (two identical lines are "
               "two items bought)." if summary.duplicate_lines else ".")))
        if excluded:
            with st.expander(f"Lines excluded ({excluded:,}), by reason",
                             icon=":material/rule:"):
                st.dataframe(pd.DataFrame(
                    {"reason": list(summary.excluded), "lines": list(summary.excluded.values())}),
                    hide_index=True)


#: From this share of invalid rows the main area warns (below it, the context line says it).
EXCLUDED_WARN = 0.01
#: Fragile segments named in the warning; more are counted ("and 9 more").
FRAGILE_NAMED = 6


@dataclass(frozen=True)
class Context:
    """What the main area says above every page: the data and model shown (``line``),
    what went wrong this run (``failure``), and warnings the analyst must not miss."""

    line: str
    failure: str | None = None
    warnings: tuple[str, ...] = ()


def _data_said(view) -> str:
    table, data = view.table, view.data
    rows = view.validated.n_rows
    if data.log is not None:
        return (f"{table.name} (a transaction log: {data.log.customers:,} customers from "
                f"{data.log.read:,} lines)")
    if data.key.startswith("demo:"):
        return table.name  # "demo data (2,000 customers)"
    return f"{table.name} ({rows:,} row{'s' if rows != 1 else ''})"


def _model_said(view) -> str:
    from custseg.cluster.algorithms import ALGORITHMS

    model = view.model
    name = model.config.algorithm
    label = ALGORITHMS[name].label if name in ALGORITHMS else name
    if model.rfm is not None:
        label = "RFM scores"
    n = sum(1 for s in model.segments if not s.is_outliers and s.id >= 0)
    said = f"{label}, {n:,} segment{'s' if n != 1 else ''}"
    if view.loaded_name:
        return f"loaded {view.loaded_name} ({said})"
    return said


def context(view, failed: tuple[str, str | None] | None = None, stability=None) -> Context:
    """The main area's context for ``view`` (None: no data yet): ``failed`` is what was
    refused this run (``state.FAILED``), ``stability`` a measurement of this model made
    in the session (the model's own comes first); fragile segments are said only when
    one of them is known, never guessed."""
    from custseg.cluster.labels import NOISE, segment_label
    from custseg.cluster.stability import FRAGILE

    failure = None
    if failed is not None:
        what, name = failed
        thing = {"upload": "The uploaded file", "file": "The file", "demo": "The demo data",
                 "fit": "The segmentation with the sidebar's current settings",
                 "features": "", "no_features": ""}[what]
        said = f"{thing} {name}" if name else thing
        still = ("nothing is shown" if view is None else
                 f"still showing {_data_said(view)} · {_model_said(view)}")
        if what == "no_features":
            failure = f"{name} has no numeric column to segment on (the sidebar says more); {still}."
        elif what == "features":
            failure = (f"No feature is chosen to segment {name} on: choose at least one in "
                       f"the sidebar's Features; {still}.")
        elif what == "fit":
            failure = f"{said} failed (the sidebar says why); {still}."
        else:
            failure = f"{said} could not be used (the sidebar says why); {still}."
    if view is None:
        return Context("Data: none yet", failure)
    line = f"Data: {_data_said(view)} · Model: {_model_said(view)}"
    warnings = []
    validated = view.validated
    if validated.n_invalid:
        share = validated.n_invalid / max(validated.n_rows, 1)
        said = (f"{validated.n_invalid:,} of {validated.n_rows:,} rows "
                f"({'< 0.1%' if share < 0.001 else f'{share:.1%}'}) are invalid and left out")
        if share >= EXCLUDED_WARN:
            reasons = ", ".join(f"{k}: {v:,}" for k, v in validated.reasons.most_common(3))
            warnings.append(f"{said}: the segments describe the other "
                            f"{validated.n_rows - validated.n_invalid:,}. Most common reasons: "
                            f"{reasons} (sidebar › Data quality).")
        else:
            line += f" · {said}"
    model = view.shown  # counted as the Dashboard counts (a loaded model: these customers)
    noise = sum(s.size for s in model.segments if s.id == NOISE)
    if model.base.n and noise / model.base.n >= LARGE_OUTLIER_SHARE:
        if noise >= model.base.n:
            warnings.append(f"Every customer ({noise:,}) is an outlier: no segment was found. "
                            "Loosen the algorithm's settings in the sidebar.")
        else:
            warnings.append(f"{share_text(noise / model.base.n)} of the customers ({noise:,}) "
                            "are outliers: they fit no segment, and the segments describe "
                            "the rest.")
    for message in model.warnings:  # the fit's own (too many segments, tiny ones…)
        warnings.append(message[:1].upper() + message[1:]
                        + ("" if message.rstrip().endswith((".", ")")) else "."))
    measured = model.metrics.stability if model.metrics.stability is not None else stability
    if measured is not None and measured.overall is not None:
        fragile = [segment_label(i, model.names.get(i, str(i)))
                   for i, j in sorted(measured.per_segment.items()) if j < FRAGILE]
        if fragile:
            named = ", ".join(fragile[:FRAGILE_NAMED])
            if len(fragile) > FRAGILE_NAMED:
                named += f" and {len(fragile) - FRAGILE_NAMED:,} more"
            of = sum(1 for s in model.segments if not s.is_outliers)
            count = (f"{len(fragile):,} of {of:,} segments are fragile"
                     if len(fragile) > 1 else "Fragile segment")
            warnings.append(f"{count} (they change shape when customers are resampled; "
                            f"Model Lab › Stability): {named}.")
    return Context(line, failure, tuple(warnings))


def context_banner(view) -> None:
    """Above every page: the data source and model shown, then what failed this run and
    the warnings an analyst must see, in the main area (the sidebar says them too)."""
    from custseg.app import state

    measured = None if view is None else \
        st.session_state.get(state.MEASURED, {}).get(view.model_key)
    said = context(view, st.session_state.get(state.FAILED), measured)
    # one container, whatever it holds: the page's elements keep their places from run to
    # run (a warning more or less above them would reset the page's tabs)
    with st.container():
        st.caption(plain(said.line))
        if said.failure:
            st.error(plain(said.failure), icon=":material/error:")
        for warning in said.warnings:
            st.warning(plain(warning), icon=":material/warning:")


def confidence_shown(frame):
    """``frame`` for a table of scored customers, and its column config: confidence as a
    percent, except a customer unlike any known one ("low (atypical)": its neighbours'
    vote is no confidence, as on Predict) and an invalid row (empty)."""
    percent = {"confidence": st.column_config.NumberColumn(format="percent")}
    if "confidence" not in frame:
        return frame, None
    atypical = (frame["atypical"].fillna(False).to_numpy(dtype=bool) if "atypical" in frame
                else np.zeros(len(frame), dtype=bool))
    if not (frame["confidence"].isna().any() or atypical.any()):
        return frame, percent
    cells = ["" if v != v else "low (atypical)" if odd else f"{v:.0%}"
             for v, odd in zip(frame["confidence"], atypical, strict=True)]
    return frame.assign(confidence=cells), None  # written as text already


def filled(frame):
    """A frame for ``st.dataframe`` with no empty cell shown as "None": a column with
    missing values is shown as text, the missing ones empty (numbers as ``%.4g``, whole
    ones without a decimal point, true/false as written in the scored CSV). Columns
    without a missing value keep their type, so they sort and format as numbers."""
    import pandas as pd

    out = {}
    for name in frame.columns:
        column = frame[name]
        missing = column.isna()
        if not missing.any():
            out[name] = column
        elif pd.api.types.is_bool_dtype(column) or column.dropna().map(
                lambda v: isinstance(v, bool | np.bool_)).all():
            out[name] = column.map(lambda v: "" if pd.isna(v) else str(bool(v)).lower())
        elif pd.api.types.is_numeric_dtype(column):
            out[name] = column.map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
        else:
            out[name] = column.astype(object).where(~missing, "").astype(str)
    return pd.DataFrame(out, index=frame.index)
