"""Small display helpers shared by the pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from custseg.errors import CustsegError

T = TypeVar("T")

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")


def plain(text: object) -> str:
    """Text made inert for Streamlit's markdown: shown as written, never interpreted."""
    return _MARKDOWN.sub(r"\\\1", str(text))


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
                edits = st.session_state[state.EDITS].setdefault(view.model_key.unedited(), {})
                edits[segment.id] = {"name": name, "strategy": strategy}
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
