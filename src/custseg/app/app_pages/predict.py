"""Predict: place one customer, with gauges against the segment's averages.

The form is built from the model: one input per column it reads (a number input per
numeric one, a select per categorical one, the column's own format for a date), starting
from a real customer near the middle of the base.
"""

import math

import streamlit as st

from custseg.api import customer_features, predict_inputs, predict_one
from custseg.app import cached, state
from custseg.app.ui import chart, plain, show_error
from custseg.app.ui import label as input_label
from custseg.cluster.labels import segment_label
from custseg.errors import CustsegError
from custseg.model import summaries
from custseg.segments import charts
from custseg.table.fields import GENDER

view = state.require_view()
model = view.model
base = model.base
spec = model.config.spec
inputs_needed = predict_inputs(model)
start = cached.typical_inputs(view)

st.title("Predict a customer's segment")
st.caption(plain(summaries.assignment_note(model)
                 + " The form starts from a typical customer of the data."))

PER_ROW = 4


def number_field(column, spec_input):
    """A number input on the feature's valid range where one is known; its range among
    known customers in the help."""
    value = start.get(spec_input.name)
    if value is None or not math.isfinite(value):
        value = spec_input.low if spec_input.low is not None else 0.0
    low, high = spec_input.low, spec_input.high
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    whole = float(value).is_integer() and (spec_input.seen is None or all(
        float(v).is_integer() for v in spec_input.seen))
    help_text = (f"Known customers: {spec_input.hint}." if spec_input.hint else None)
    return column.number_input(
        input_label(spec_input.label), min_value=None if low is None else float(low),
        max_value=None if high is None else float(high), value=float(value),
        step=1.0 if whole else None, format="%.0f" if whole else "%g",
        key=f"predict_{spec_input.name}", persist_state="session",
        help=plain(help_text) if help_text else None,
    )


with st.form("predict_form"):
    given = {}
    for first in range(0, len(inputs_needed), PER_ROW):
        row = inputs_needed[first:first + PER_ROW]
        cols = st.columns(PER_ROW)
        for col, spec_input in zip(cols, row, strict=False):
            key = f"predict_{spec_input.name}"
            if spec_input.kind == "categorical":
                choices = list(spec_input.choices)
                if st.session_state.get(key) not in choices:
                    st.session_state.pop(key, None)
                initial = start.get(spec_input.name)
                given[spec_input.name] = col.selectbox(
                    input_label(spec_input.label), choices,
                    index=choices.index(initial) if initial in choices else 0,
                    key=key, persist_state="session")
            elif spec_input.kind == "date":
                given[spec_input.name] = col.text_input(
                    input_label(spec_input.label), value=start.get(spec_input.name) or spec_input.hint,
                    key=key, persist_state="session",
                    help=plain(f"A date as the file writes it, such as {spec_input.hint}."))
            else:
                given[spec_input.name] = number_field(col, spec_input)
    submitted = st.form_submit_button("Predict", type="primary", icon=":material/person_search:")

if submitted:
    st.session_state[state.PREDICTION] = dict(given)

inputs = st.session_state.get(state.PREDICTION)
if inputs is None or any(i.name not in inputs for i in inputs_needed):
    st.info("Enter a customer and press Predict.", icon=":material/info:")
    st.stop()

gender = inputs.get(GENDER)
values = {k: v for k, v in inputs.items() if k != GENDER and k in {i.name for i in inputs_needed}}
try:
    result = predict_one(model, gender=gender, values=values)
    features = customer_features(model, gender=gender, values=values)
except CustsegError as exc:
    show_error(exc)
    st.stop()



def rfm_scores() -> None:
    """An RFM model's scores and cell for this customer (none for returns only)."""
    shown = summaries.rfm_score_figures(result)
    for col, (label, value, help_text) in zip(st.columns(4) if shown else [], shown,
                                              strict=False):
        col.metric(label, value, help=help_text)


unfitted = model.unfitted_segment(result["segment_id"])
if unfitted:  # an RFM map segment no fitted customer fell in: no averages to compare
    st.metric("Segment", plain(segment_label(unfitted["id"], unfitted["name"])))
    rfm_scores()
    st.caption("No fitted customer was in this segment of the RFM score map.")
    st.markdown("**Strategy** " + plain(unfitted["strategy"]))
    st.stop()
segment = model.segment(result["segment_id"])
color = charts.segment_color(segment.id)
with st.container(border=True):
    c1, c2, c3 = st.columns([3, 1, 1])
    c1.metric("Segment", plain(segment_label(segment.id, segment.name)))
    c2.metric("Confidence", f"{result['confidence']:.0%}",
              help="Share of the nearest known customers that belong to this segment.")
    c3.metric("Segment size", f"{segment.share:.1%}")
    rfm_scores()
    if result["atypical"]:
        st.warning("This customer is unlike any known customer: further from all of them than "
                   "99% of known customers are from their nearest neighbour. Treat the "
                   "assignment with care.", icon=":material/person_alert:")
    if segment.is_outliers:
        st.warning("The nearest known customers are outliers: no segment fits.",
                   icon=":material/scatter_plot:")
    if result.get("notes"):
        st.caption(plain(f"Note: {result['notes']}"))
    st.markdown(plain(segment.description))
    st.markdown("**Strategy** " + plain(segment.strategy))

st.subheader("Against the segment's averages", divider="gray")
st.caption("One gauge per feature the model clusters on (derived ones computed from the "
           "inputs). Range: the lowest to the highest value among the known customers; grey "
           "band: the average ± one standard deviation; marker: the segment's average.")
shown = [f for f in model.config.features if f in base.means and features.get(f) is not None]
gauge_cols = st.columns(3 if len(shown) <= 6 else 4)
for i, field in enumerate(shown):
    with gauge_cols[i % len(gauge_cols)]:
        chart(charts.gauge(field, features[field], segment, base, color, spec),
              key=f"gauge_{field}")
