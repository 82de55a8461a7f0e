"""Dashboard: headline figures, every segment at a glance, one card per segment, and
the customers of a segment."""

import streamlit as st

from custseg.app import cached, glance, members, state
from custseg.app.ui import chart, edit_form, log_panel, plain
from custseg.cluster.labels import segment_label
from custseg.model import summaries
from custseg.segments import charts
from custseg.segments.explain import drivers, lift_text

#: Cards per page: past this many segments the cards are paged.
CARDS_PER_PAGE = 10
#: A card's width (px): its level table fits whole, and two fit a row from about 1280 px.
CARD_WIDTH = 396
#: Up to this many segments the cards open expanded.
OPEN_CARDS = 6
#: Session key: the models whose stability the analyst asked to measure here.
STABILITY_ASKED = "_stability_asked"

view = state.require_view()
model = view.shown  # a loaded model: its segments as they hold these customers
head = summaries.headline(model)
spec = model.config.spec

st.title("Customer segments")
st.caption(plain(summaries.describe_model(model)
                 + (f" · model file {view.loaded_name}" if view.loaded_name else "")))
st.caption(plain(summaries.fit_note(model)))
if view.placed is not None:  # what the counts below are, and what the model was fitted on
    st.caption(plain(f"Loaded model: the counts and averages below are the {model.base.n:,} "
                     f"customers of {view.table.name} as the model places them; it was "
                     f"fitted on {view.model.base.n:,} customers (whose own counts are in "
                     "custseg profile)."))

outliers = [s for s in model.segments if s.is_outliers]
# a large share of outliers is said first, above every page (ui.context_banner)

figures = summaries.headline_figures(model)  # averages of the model's own features
# counts on one row, the averages on the next: six metrics on one row cut their numbers
cols = st.columns(3)
apart = head["returns_only"]
cols[0].metric("Customers", f"{head['customers']:,}", border=True,
               help=plain(f"{head['customers'] - apart:,} clustered and {apart:,} with returns "
                          "only, set apart.") if apart else None)
cols[1].metric("Segments", head["segments"], border=True)
cols[2].metric("Outliers", summaries.share_text(head["outlier_share"]), border=True,
               help="Customers in no dense group (DBSCAN, HDBSCAN); the other algorithms "
                    "place every customer in a segment.")
rows = glance.headline_rows(figures)
for row in rows:  # as many to a row as fit whole at 1024 px, each row as wide
    for col, (label, value, help_text) in zip(st.columns(len(rows[0])), row, strict=False):
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

# ---- every segment at a glance
st.subheader("All segments at a glance", divider="gray")
measured = model.metrics.stability
asked = st.session_state.setdefault(STABILITY_ASKED, set())
if measured is None and view.model_key in asked:
    measured = cached.model_stability(view)
overview = summaries.overview(model, view.values, view.labels, measured)
if overview.table.empty:  # every customer an outlier: the banner above says what to change
    st.info("No segment to compare: the algorithm put every customer with the outliers.",
            icon=":material/info:")
else:
    glance.show(overview, [s.share for s in model.segments if not s.is_outliers])
st.caption("Averages in each feature's unit (a column's help, on its header, names it); "
           "orange: high against the whole base, blue: low, plain: mid. Click a column's "
           "header to sort by it."
           + (f" The value share is each segment's part of the "
              f"{overview.value_column.removeprefix('share of ')} over every customer."
              if overview.value_column else ""))
if not overview.stability_measured:
    c1, c2 = st.columns([3, 2], vertical_alignment="center")
    c1.caption(plain(measured.reading) if measured is not None else
               "Stability is not measured yet: it refits the segments on resamples of the "
               "customers (a few seconds at most).")
    if measured is None and c2.button("Measure stability", key="measure_stability",
                                      icon=":material/balance:"):
        asked.add(view.model_key)
        st.rerun()
segment_ids = [s.id for s in model.segments]
if charts.colours_repeat(segment_ids):
    st.caption(plain(f"{len([i for i in segment_ids if i >= 0])} segments and "
                     f"{len(charts.PALETTE)} distinct colours: colours repeat in the charts; "
                     "the segment's number and name tell them apart."))

# ---- one card per segment
segments = [s for s in model.segments if not s.is_outliers]
st.subheader("Segment cards", divider="gray")
shown = segments
if len(segments) > CARDS_PER_PAGE:
    pages = list(range(0, len(segments), CARDS_PER_PAGE))

    start = st.selectbox("Cards", pages, format_func=lambda p: (
        f"Segments {p + 1}–{min(p + CARDS_PER_PAGE, len(segments))} of {len(segments)}"),
        key=f"card_page_{members.model_tag(view)}")  # another model: from its first page
    shown = segments[start:start + CARDS_PER_PAGE]
# cards of a fixed width that wrap: two a row on a wide screen, one on a narrow one, so a
# card's level table is never cut
grid = st.container(horizontal=True, wrap=True, gap="small")
for segment in shown:
    title = (f"{segment_label(segment.id, segment.name)} — {segment.size:,} "
             f"customer{'s' if segment.size != 1 else ''} "
             f"({summaries.share_text(segment.share)} of the base)")
    with grid.expander(plain(title), expanded=len(segments) <= OPEN_CARDS, width=CARD_WIDTH):
        st.markdown(plain(segment.description))
        if model.rfm is not None and segment.id >= 0:  # the score map's cells it holds
            st.caption(plain(summaries.cells_text(model.rfm.cells_of(segment.id))))
        chart(charts.profile_bars(segment, model.rulebook.threshold, spec),
              key=f"profile_{segment.id}")
        st.dataframe(
            summaries.level_table(segment, model.base, spec), hide_index=True,
            column_config={
                "feature": st.column_config.TextColumn(),  # its width as needed: "gap (SD)" fits a card
                # narrow enough for the whole table to fit a card of CARD_WIDTH
                "segment": st.column_config.NumberColumn(format="%.1f", width=62),
                "everyone": st.column_config.NumberColumn(format="%.1f", width=64),
                "gap (SD)": st.column_config.NumberColumn(format="%+.2f", width=64),
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

if outliers:
    o = outliers[0]
    st.subheader("Outliers", divider="gray")
    with st.container(border=True):
        # the description (the rulebook's, or the analyst's) says what they are
        st.markdown(plain(f"{o.size:,} customers ({summaries.share_text(o.share)}) are "
                          f"outliers. {o.description}"))
        st.warning(plain(o.strategy), icon=":material/person_alert:")
        st.dataframe(summaries.level_table(o, model.base, spec), hide_index=True,
                     column_config={
                         "segment": st.column_config.NumberColumn(format="%.1f"),
                         "everyone": st.column_config.NumberColumn(format="%.1f"),
                         "gap (SD)": st.column_config.NumberColumn(format="%+.2f")})

# ---- the customers behind a segment
st.subheader("Customers of a segment", divider="gray")
members.panel(view, "dashboard_members")
