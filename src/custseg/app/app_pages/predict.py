"""Predict: place one customer, with gauges against the segment's averages."""

import streamlit as st

from custseg.api import predict_one
from custseg.app import state
from custseg.app.ui import chart, plain, show_error
from custseg.cluster.labels import segment_label
from custseg.errors import CustsegError
from custseg.segments import charts
from custseg.table.fields import GENDER, LABELS, NUMERIC_FIELDS, UNITS

view = state.require_view()
model = view.model
needs = model.encoding.needs
base = model.base
ranges = model.config.ranges

st.title("Predict a customer's segment")
st.caption("Every algorithm assigns through the same nearest-neighbour vote "
           f"({model.config.n_neighbors} neighbours).")

genders = list(model.encoding.gender_categories or ("Female", "Male"))
with st.form("predict_form"):
    cols = st.columns(4)
    gender = cols[0].selectbox("Gender", genders, key="predict_gender", persist_state="session",
                               help=None if GENDER in needs else "Not used by this model.")
    values = {}
    for col, field in zip(cols[1:], NUMERIC_FIELDS, strict=True):
        low, high = ranges.of(field)
        start = base.means.get(field)
        values[field] = col.number_input(
            f"{LABELS[field]} ({UNITS[field]})", min_value=float(low), max_value=float(high),
            value=float(round(start if start is not None else low)), step=1.0, format="%.0f",
            key=f"predict_{field}", persist_state="session",
            help=None if field in needs else "Not used by this model.",
        )
    submitted = st.form_submit_button("Predict", type="primary", icon=":material/person_search:")

if submitted:
    st.session_state[state.PREDICTION] = {"gender": gender, **values}

inputs = st.session_state.get(state.PREDICTION)
if inputs is None:
    st.info("Enter a customer and press Predict.", icon=":material/info:")
    st.stop()

try:
    result = predict_one(
        model,
        gender=inputs["gender"] if GENDER in needs else None,
        **{f: inputs[f] for f in NUMERIC_FIELDS if f in needs},
    )
except CustsegError as exc:
    show_error(exc)
    st.stop()

segment = model.segment(result["segment_id"])
color = charts.segment_color(segment.id)
with st.container(border=True):
    c1, c2, c3 = st.columns([3, 1, 1])
    c1.metric("Segment", plain(segment_label(segment.id, segment.name)))
    c2.metric("Confidence", f"{result['confidence']:.0%}",
              help="Share of the nearest known customers that belong to this segment.")
    c3.metric("Segment size", f"{segment.share:.1%}")
    if result["atypical"]:
        st.warning("This customer is unlike any known customer: further from all of them than "
                   "99% of known customers are from their nearest neighbour. Treat the "
                   "assignment with care.", icon=":material/person_alert:")
    if segment.is_outliers:
        st.warning("The nearest known customers are outliers: no segment fits.",
                   icon=":material/scatter_plot:")
    st.markdown(plain(segment.description))
    st.markdown("**Strategy** " + plain(segment.strategy))

st.subheader("Against the segment's averages", divider="gray")
st.caption("Gauge range: the lowest to the highest value among the known customers; grey "
           "band: the average ± one standard deviation; marker: the segment's average.")
gauge_cols = st.columns(3)
for col, field in zip(gauge_cols, [f for f in NUMERIC_FIELDS if f in base.means], strict=False):
    with col:
        chart(charts.gauge(field, inputs[field], segment, base, color, spec=model.config.spec),
              key=f"gauge_{field}")
