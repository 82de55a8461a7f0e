"""A segment's customers, on the Dashboard and on Explore: pick a segment, search and
filter its rows, download them with every original column.

The rows are the segment's customers as the Dashboard counts them (the clusterer's
segments of the rows fitted), so the download holds exactly the count the page shows.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import streamlit as st

from custseg.app import cached
from custseg.app.state import View
from custseg.app.ui import confidence_shown, filled, plain
from custseg.cluster.labels import outliers_last, segment_label
from custseg.model import summaries

#: Rows the table shows at most (the download has them all).
SHOWN = 5_000


def model_tag(view: View) -> str:
    """A short tag of the view's model, for widget keys that must change with it."""
    return cached.digest(repr(view.model_key).encode())[:10]


def counts(view: View) -> dict[int, int]:
    """Customers per segment as the members' table counts them (returns only included)."""
    ids, sizes = np.unique(np.asarray(view.labels), return_counts=True)
    n = {int(i): int(c) for i, c in zip(ids, sizes, strict=True)}
    apart = view.validated.n_apart
    if apart:
        n[-2] = apart
    return n


def search(frame: pd.DataFrame, text: str) -> pd.DataFrame:
    """The rows with ``text`` in any cell (case-insensitive, taken literally)."""
    text = text.strip()
    if not text:
        return frame
    hit = pd.Series(False, index=frame.index)
    for column in frame.columns:
        hit |= frame[column].astype(str).str.contains(text, case=False, regex=False, na=False)
    return frame[hit]


def panel(view: View, key: str) -> None:
    """The members' picker, filters, table and download (widget keys start with ``key``)."""
    per = counts(view)
    ids = sorted(per, key=outliers_last)
    if not ids:
        st.info("No customer is in a segment.")
        return
    names = view.names

    def label(i: int) -> str:
        return f"{segment_label(i, names.get(i, str(i)))} ({per[i]:,} customers)"

    c1, c2 = st.columns(2, vertical_alignment="bottom")
    # keyed by the model too: another model's picker starts afresh, never showing the
    # labels (names, counts) of the model before
    chosen = c1.selectbox("Segment", ids, format_func=label,
                          key=f"{key}_segment_{model_tag(view)}")
    text = c2.text_input("Search its rows", key=f"{key}_search",
                         placeholder="an id, a value…",
                         help="Keeps the rows with this text in any column.")
    atypical_only = st.toggle("Atypical only", key=f"{key}_atypical",
                              help="Customers far from every known customer.")
    frame, download = cached.members(view, int(chosen))
    shown = search(frame, text)
    if atypical_only:
        shown = shown[shown["atypical"].astype(bool)]
    table, percent = confidence_shown(shown.head(SHOWN))
    st.dataframe(filled(table), hide_index=True, key=f"{key}_table", column_config=percent)
    st.caption(plain(summaries.members_note(
        frame["segment_id"], frame["scored_segment_id"], min(SHOWN, len(frame)),
        view.model.config.n_neighbors)
                     + ("" if len(shown) == len(frame)
                        else f" {len(shown):,} match the search and filter.")))
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", names.get(int(chosen), str(chosen))).strip("_")
    st.download_button(f"Download its {len(frame):,} customers (CSV)", download,
                       file_name=f"segment_{chosen}_{stem or 'customers'}.csv", mime="text/csv",
                       icon=":material/download:", key=f"{key}_download",
                       help="Every original column of these customers, then their segment "
                       "and how scoring places them.")
