"""Small display helpers shared by the pages."""

from __future__ import annotations

import re

import streamlit as st

from custseg.errors import CustsegError

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")


def plain(text: object) -> str:
    """Text made inert for Streamlit's markdown: shown as written, never interpreted."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def show_error(exc: Exception) -> None:
    """A user-facing error: the message only, as text."""
    if isinstance(exc, CustsegError):
        st.error(plain(str(exc)), icon=":material/error:")
    else:
        st.error(
            plain(f"Something went wrong ({type(exc).__name__}). The current segmentation is "
                  "unchanged; please report this."),
            icon=":material/error:",
        )


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
