"""Dashboard: headline figures and one card per segment."""

import streamlit as st

from custseg.app import state
from custseg.app.ui import chart, edit_form, log_panel, plain
from custseg.cluster.labels import segment_label
from custseg.model import summaries
from custseg.segments import charts
from custseg.segments.explain import drivers, lift_text

view = state.require_view()
model = view.model
head = summaries.headline(model)
spec = model.config.spec

st.title("Customer segments")
st.caption(plain(summaries.describe_model(model)
                 + (f" · model file {view.loaded_name}" if view.loaded_name else "")))
st.caption(plain(summaries.fit_note(model)))

figures = summaries.headline_figures(model)  # averages of the model's own features
# counts on one row, the averages on the next: six metrics on one row cut their numbers
cols = st.columns(3)
apart = head["returns_only"]
cols[0].metric("Customers", f"{head['customers']:,}", border=True,
               help=plain(f"{head['customers'] - apart:,} clustered and {apart:,} with returns "
                          "only, set apart.") if apart else None)
cols[1].metric("Segments", head["segments"], border=True)
cols[2].metric("Outliers", f"{head['outlier_share']:.1%}", border=True)
if figures:
    for col, (label, value, help_text) in zip(st.columns(len(figures)), figures, strict=True):
        col.metric(label, value, border=True, help=plain(help_text))

if view.data.log is not None:
    log_panel(view.data.log)
rfm = charts.rfm_columns(model.config.features, spec)
if rfm is not None:  # the grid RFM analysts read first
    recency, frequency, monetary = rfm
    cells = charts.rfm_grid_data(
        view.values[recency].to_numpy(dtype="float64"),
        view.values[frequency].to_numpy(dtype="float64"),
        None if monetary is None else view.values[monetary].to_numpy(dtype="float64"),
        view.labels, set_apart=view.validated.n_apart)  # the returns only: no recency
    chart(charts.rfm_grid(cells, view.names, spec, monetary), key="rfm_grid")

segments = [s for s in model.segments if not s.is_outliers]
grid = st.columns(2)
for i, segment in enumerate(segments):
    with grid[i % 2].container(border=True):
        st.subheader(plain(segment_label(segment.id, segment.name)))
        st.caption(plain(f"{segment.size:,} customers · {segment.share:.1%} of the base"))
        st.markdown(plain(segment.description))
        if model.rfm is not None and segment.id >= 0:  # the score map's cells it holds
            st.caption(plain(summaries.cells_text(model.rfm.cells_of(segment.id))))
        chart(charts.profile_bars(segment, model.rulebook.threshold, spec),
              key=f"profile_{segment.id}")
        st.dataframe(
            summaries.level_table(segment, model.base, spec), hide_index=True,
            column_config={
                "feature": st.column_config.TextColumn(),  # its width as needed: "gap (SD)" fits a card
                "segment": st.column_config.NumberColumn(format="%.1f", width="small"),
                "everyone": st.column_config.NumberColumn(format="%.1f", width="small"),
                "gap (SD)": st.column_config.NumberColumn(format="%+.2f", width="small"),
            },
        )
        if segment.gender_mix:
            st.caption(plain("Gender: " + summaries.gender_mix_text(segment.gender_mix)))
        if segment.categories:
            with st.expander("Categories: shares against everyone"):
                st.dataframe(
                    summaries.category_table(segment, model.base), hide_index=True,
                    column_config={
                        "segment": st.column_config.NumberColumn(format="percent"),
                        "everyone": st.column_config.NumberColumn(format="percent"),
                        "lift": st.column_config.NumberColumn(format="%.2f×"),
                    },
                )
        st.markdown("**Strategy** " + plain(segment.strategy)
                    + (" *(edited)*" if segment.edited else ""))
        if segment.rules:
            st.markdown("**Rules**")
            for rule in segment.rules:
                st.markdown("- " + plain(rule["text"]) + f" — precision {rule['precision']:.0%}, "
                            f"coverage {rule['coverage']:.0%}")
        with st.expander("Why this name: drivers and facts"):
            for driver in drivers(segment, model.base):
                st.text(lift_text(driver, spec))
            for fact in segment.facts:
                st.text(fact)
        edit_form(view, segment)

outliers = [s for s in model.segments if s.is_outliers]
if outliers:
    o = outliers[0]
    st.subheader("Outliers", divider="gray")
    with st.container(border=True):
        st.markdown(plain(f"{o.size:,} customers ({o.share:.1%}) fit no dense group. "
                          f"{o.description}"))
        st.warning(plain(o.strategy), icon=":material/person_alert:")
        st.dataframe(summaries.level_table(o, model.base, spec), hide_index=True)
