"""Explore: scatter plots, distributions, segment shares, gender by segment, comparisons
and the customers of a segment."""

import streamlit as st

from custseg.app import members, state
from custseg.app.ui import chart, plain
from custseg.cluster.labels import segment_label
from custseg.model.summaries import unsigned_zero
from custseg.segments import charts
from custseg.segments.explain import compare_segments
from custseg.table.fields import AGE, GENDER
from custseg.table.spec import with_unit

view = state.require_view()
values, labels, names = view.values, view.labels, view.names
spec = view.model.config.spec
fields = [f for f in view.model.config.features if f in values.columns]  # the model's own


def axis_label(name: str) -> str:
    return with_unit(name, spec)


def pick(label: str, key: str, index: int, column=st) -> str:
    """An axis select over the model's features; a choice the model lacks starts over."""
    if st.session_state.get(key) not in fields:
        st.session_state.pop(key, None)
    return column.selectbox(label, fields, index=min(index, len(fields) - 1),
                            format_func=axis_label, key=key, persist_state="session")


st.title("Explore")
# Kept on the server, as on the Model Lab: a rerun never moves the analyst to another tab.
# Short labels: the bar shows every tab at 1024 px.
tabs = st.tabs(["2D scatter", "3D scatter", "Distributions", "Shares", "Gender",
                "Compare", "Customers"], key="explore_tab", on_change="rerun")
if charts.colours_repeat([s.id for s in view.shown.segments]):
    st.caption(plain(f"More segments than the {len(charts.PALETTE)} distinct colours: colours "
                     "repeat; the legend's and the hover's names tell segments apart."))

with tabs[0]:
    c1, c2 = st.columns(2)
    x = pick("X axis", "explore_x", 1, c1)
    y = pick("Y axis", "explore_y", len(fields) - 1, c2)
    chart(charts.scatter_2d(values, labels, names, x, y, size=AGE, spec=spec,
                            legend_below=True), key="scatter_2d")

with tabs[1]:
    if len(fields) < 3:
        st.info("The 3D view needs three numeric features in the model.")
    else:
        c1, c2, c3 = st.columns(3)
        x3 = pick("X", "explore_x3", 0, c1)
        y3 = pick("Y", "explore_y3", 1, c2)
        z3 = pick("Z", "explore_z3", 2, c3)
        chart(charts.scatter_3d(values, labels, names, x3, y3, z3, spec=spec), key="scatter_3d")

with tabs[2]:
    feature = pick("Feature", "explore_feature", 0)
    chart(charts.distribution(values, labels, names, feature, spec=spec), key="distribution")

with tabs[3]:
    chart(charts.shares_donut(view.shown.segments), key="shares")
    _, folded = charts.share_slices(view.shown.segments)
    if folded:
        st.caption(plain(f"Other: the {len(folded)} smallest segments together "
                         f"({sum(s.size for s in folded):,} customers); each one's size is "
                         "in the table on the Dashboard and on the Customers tab."))

with tabs[4]:
    if GENDER in values.columns and values[GENDER].notna().any():
        chart(charts.gender_by_segment(values, labels, names), key="gender")
    else:
        st.info("This table has no gender column.")

with tabs[5]:
    ids = [s.id for s in view.shown.segments if s.size > 1]
    if len(ids) < 2:
        st.info("Comparing needs two segments.")
    else:
        c1, c2 = st.columns(2)
        def label(i: int) -> str:
            return segment_label(i, names[i])

        a = c1.selectbox("Segment", ids, index=0, format_func=label, key="compare_a")
        b = c2.selectbox("against", ids, index=1, format_func=label, key="compare_b")
        if a == b:
            st.info("Choose two different segments.")
        else:
            result = compare_segments(values, labels, a, b, names, spec=view.model.config.spec)
            st.info(plain(result.sentence), icon=":material/compare_arrows:")
            shown = result.table.assign(  # no "−0.0" for a difference that rounds to none
                difference=result.table["difference"].map(lambda v: unsigned_zero(v, 1)),
                cohens_d=result.table["cohens_d"].map(lambda v: unsigned_zero(v, 2)))
            st.dataframe(
                shown, hide_index=True,
                column_config={
                    f"mean {a}": st.column_config.NumberColumn(format="%.1f"),
                    f"mean {b}": st.column_config.NumberColumn(format="%.1f"),
                    "ratio": st.column_config.NumberColumn(format="%.2f×"),
                    "difference": st.column_config.NumberColumn(format="%+.1f"),
                    "p_value": st.column_config.NumberColumn(format="%.2g"),
                    "cohens_d": st.column_config.NumberColumn("Cohen's d", format="%+.2f"),
                    "meaningful": st.column_config.CheckboxColumn(
                        "differs", help="Welch's p < 0.05 and Cohen's d at least 0.2 either "
                                        "way: the sentence above names this feature."),
                },
            )
            st.caption("A difference counts when Welch's t-test is significant (p < 0.05) and "
                       "Cohen's d is at least 0.2; otherwise the segments are called the same.")

with tabs[6]:
    members.panel(view, "explore_members")
