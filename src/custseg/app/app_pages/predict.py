"""Predict: place one customer, with gauges against the segment's averages.

The form is built from the model: one input per column it reads (a number input per
numeric one, a select per categorical one, the column's own format for a date), starting
from a real customer near the middle of the base.
"""

import math

import streamlit as st

from custseg.api import customer_features, predict_inputs, predict_one, predict_typicality
from custseg.app import cached, state
from custseg.app.inputs import number_format, per_row, valid_range
from custseg.app.ui import chart, plain, show_error
from custseg.app.ui import label as input_label
from custseg.cluster.labels import segment_label
from custseg.errors import CustsegError
from custseg.model import summaries
from custseg.model.typicality import confidence_level, outside_segment
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

def start_value(spec_input) -> float:
    """Where a number input starts: the typical customer's value, within the valid range."""
    value = start.get(spec_input.name)
    if value is None or not math.isfinite(value):
        value = spec_input.low if spec_input.low is not None else 0.0
    low, high = spec_input.low, spec_input.high
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    return float(value)


def number_field(column, spec_input):
    """A number input starting within the feature's valid range; that range and the
    range among known customers in the help. The input itself is not bounded: a value
    out of range reaches the model, which says what is wrong in the main area (a bounded
    input would silently keep its last valid value, and the last result with it)."""
    value = start_value(spec_input)
    fmt = number_format(spec_input, value)
    valid = valid_range(spec_input.low, spec_input.high)
    help_text = " ".join(part for part in (
        f"Valid: {valid}." if valid else "",
        f"Known customers: {spec_input.hint}." if spec_input.hint else "") if part) or None
    return column.number_input(
        input_label(spec_input.label), value=value,
        step=1.0 if fmt == "%.0f" else None, format=fmt,
        key=f"predict_{spec_input.name}", persist_state="session",
        help=plain(help_text) if help_text else None,
    )


PER_ROW = per_row((i, start_value(i)) for i in inputs_needed
                  if i.kind == "numeric")

with st.form("predict_form"):
    given = {}
    for first in range(0, len(inputs_needed), PER_ROW):
        row = inputs_needed[first:first + PER_ROW]
        cols = st.columns(PER_ROW, vertical_alignment="bottom")  # inputs level
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
    typical = predict_typicality(model, gender=gender, values=values)
except CustsegError as exc:  # no earlier result stays beside inputs it does not answer
    show_error(exc)
    st.caption("Correct the inputs above and press Predict again.")
    st.stop()



def segment_heading(column, label: str, name: str) -> None:
    """The segment as a heading, "Segment: Mature Balanced Shoppers · Income 71k$": a
    heading wraps a long name where a metric's value cut it with an ellipsis at 1024 px."""
    column.subheader(f"{label}: " + plain(name), anchor=False)


def rfm_scores() -> None:
    """An RFM model's scores and cell for this customer (none for returns only)."""
    shown = summaries.rfm_score_figures(result)
    for col, (label, value, help_text) in zip(st.columns(4) if shown else [], shown,
                                              strict=False):
        col.metric(label, value, help=help_text)


unfitted = model.unfitted_segment(result["segment_id"])
if unfitted:  # an RFM map segment no fitted customer fell in: no averages to compare
    segment_heading(st, "Segment", segment_label(unfitted["id"], unfitted["name"]))
    rfm_scores()
    st.caption("No fitted customer was in this segment of the RFM score map.")
    st.markdown("**Strategy** " + plain(unfitted["strategy"]))
    st.stop()
segment = model.segment(result["segment_id"])
color = charts.segment_color(segment.id)
atypical = bool(result["atypical"])
level = confidence_level(result["confidence"], atypical)
k = model.config.n_neighbors
vote = (f"{result['confidence']:.0%} of the {k} nearest known customers are in this "
        "segment.")
with st.container(border=True):
    c1, c2 = st.columns([4, 1], vertical_alignment="center")
    segment_heading(c1, "Nearest segment" if atypical else "Segment",
                    segment_label(segment.id, segment.name))
    c2.metric("Segment size", f"{segment.share:.1%}")
    c = st.columns([1, 1.1, 1.6])
    c[0].metric("Confidence", "Low" if atypical else f"{result['confidence']:.0%}",
                help=plain(vote + (" An atypical customer's neighbours are not like it, so "
                                   "their vote does not make the assignment reliable."
                                   if atypical else "")))
    if typical is not None:
        c[1].metric("Typicality", typical.level().capitalize(),
                    help="Typical, unusual (further from the known customers than 90% of "
                    "them are from a neighbour) or atypical (beyond 99%).")
        ratio = typical.ratio
        c[2].metric("Nearest customer",
                    "identical" if typical.distance == 0 else
                    f"{ratio:.1f}× typical" if ratio is not None and ratio < 10 else
                    f"{ratio:,.0f}× typical" if ratio is not None else f"{typical.distance:.2g}",
                    help="Its distance to the nearest known customer (features standardised) "
                    "over the typical distance between neighbouring known customers.")
    rfm_scores()
    badge = {"high": ("High confidence", "green", ":material/verified:"),
             "medium": ("Medium confidence", "orange", ":material/help:"),
             "low": ("Low confidence", "red", ":material/report:")}[level]
    if segment.is_outliers:  # a unanimous vote for "no segment" is no confident segment
        badge = ("No segment fits: an outlier", "gray", ":material/scatter_plot:")
    st.badge(badge[0] + (": atypical customer" if atypical else ""), color=badge[1],
             icon=badge[2])
    st.caption(plain(vote + (" They are far from this customer: see below." if atypical
                             else "")))
    if atypical:
        st.warning(plain("This customer is unlike any known customer. "
                         + (typical.words() + " " if typical is not None else "")
                         + "Treat the assignment with care."), icon=":material/person_alert:")
    elif typical is not None:
        st.caption(plain(f"Distance to the nearest known customers: {typical.words()}"))
    outside = outside_segment(features, segment, spec)
    if outside:  # the name describes the segment's customers, which this one is not like
        st.markdown(plain("The segment's name and description are about its own customers, "
                          "not this one: " + "; ".join(outside) + "."))
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
