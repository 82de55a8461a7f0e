"""Examples for the OpenAPI document, built from the loaded model.

The example customer is the typical customer of the model's largest segment: each
value the model reads is that segment's median (in the unit the column is read in), the
gender its most common one, a category the first seen at fit, a date the fit's date in
the column's own format. A second customer carries a value that does not read, to show
a flagged row. The response examples are those customers actually scored, so the
documentation never shows a result the service would not give.
"""

from __future__ import annotations

import datetime
import io
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from custseg.errors import CustsegError
from custseg.model.segmentation import SegmentationModel
from custseg.service.records import needed_headers, parse_body, score_customers
from custseg.service.settings import Settings
from custseg.table.fields import GENDER, INCOME, NUMERIC_FIELDS
from custseg.table.headers import match_headers


def _typical_segment(model: SegmentationModel):
    fitted = [s for s in model.segments if s.id >= 0] or list(model.segments)
    return max(fitted, key=lambda s: s.size) if fitted else None


def _number(value: float) -> float | int:
    rounded = round(float(value), 2)
    return int(rounded) if rounded.is_integer() else rounded


def typical_customer(model: SegmentationModel) -> dict[str, Any]:
    """The model's inputs for one typical customer (see the module's docstring)."""
    spec = model.config.spec
    segment = _typical_segment(model)
    medians = dict(segment.medians) if segment is not None else {}
    medians = {k: v for k, v in medians.items() if v == v}  # NaN: a feature not defined
    out: dict[str, Any] = {"customer_id": "C0001"}
    by_column = {f.column: f for f in spec.extra if f.source == "column" and f.column}
    for header in needed_headers(model):
        field_ = next((f for f in (*NUMERIC_FIELDS, GENDER)
                       if spec.mapping.get(f, f) == header), None)
        if field_ == GENDER:
            mix = dict(segment.gender_mix) if segment is not None else {}
            known = list(model.encoding.gender_categories) or ["Female"]
            out[header] = max(mix, key=mix.get) if mix else known[0]
        elif field_ in NUMERIC_FIELDS:
            value = medians.get(field_, model.base.means.get(field_, 1.0))
            out[header] = _number(value * 1000 if _in_dollars(model, header, field_) else value)
        elif header in by_column and by_column[header].categorical:
            feature = by_column[header]
            out[header] = feature.categories[0] if feature.categories else "A"
        elif header in spec.date_formats:
            out[header] = _date_text(model, spec.date_formats[header])
        elif header in by_column:
            name = by_column[header].name
            out[header] = _number(medians.get(name, model.base.means.get(name, 1.0)))
        else:  # a column only derivations read: no statistic of its own is kept
            out[header] = 1
    return out


def _in_dollars(model: SegmentationModel, header: str, field_: str) -> bool:
    if field_ != INCOME:
        return False
    named = match_headers((header,))
    if named.income_unit_source == "header":
        return named.income_unit == "$"
    return model.config.spec.income_unit == "$"


def _date_text(model: SegmentationModel, fmt: str) -> str:
    from custseg.table.spec import date_format_from_text

    day = model.config.spec.fit_date or datetime.date.today()
    try:
        decided = date_format_from_text(fmt)
    except CustsegError:  # a format the user stated (strftime codes)
        return day.strftime(fmt)
    return str(day.year) if decided.kind == "year" else day.strftime(decided.pattern)


def example_customers(model: SegmentationModel) -> list[dict[str, Any]]:
    """Two customers: the typical one, and one with a value that does not read."""
    typical = typical_customer(model)
    flawed = {**typical, "customer_id": "C0002"}
    numeric = [k for k, v in typical.items() if k != "customer_id" and not isinstance(v, str)]
    if numeric:
        flawed[numeric[0]] = "unknown"
    else:
        flawed = {**flawed, **{k: None for k in typical if k != "customer_id"}}
    return [typical, flawed]


def predict_examples(model: SegmentationModel) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The request example of ``/v1/predict`` and the response the model gives it."""
    import json

    request = {"customers": example_customers(model)}
    try:
        document = parse_body(json.dumps(request).encode(), Settings())
        return request, {"results": score_customers(model, document, Settings())}
    except Exception:  # the docs never stop the service: no response example then
        return request, None


def csv_text(customers: list[dict[str, Any]]) -> str:
    """The customers as the CSV file a client would post to ``/v1/score``."""
    header = list(dict.fromkeys(k for c in customers for k in c))
    table = pa.table({k: pa.array([None if c.get(k) is None else str(c[k])
                                   for c in customers], pa.string()) for k in header})
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(quoting_style="needed"))
    return sink.getvalue().decode("utf-8")


def score_examples(model: SegmentationModel) -> tuple[str, str | None]:
    """The request example of ``/v1/score`` (a CSV) and the scored CSV it gives."""
    from custseg.io.score_files import score_file

    text = csv_text(example_customers(model))
    try:
        with tempfile.TemporaryDirectory(prefix="custseg-serve-") as folder:
            upload = Path(folder) / "upload"
            upload.write_text(text, encoding="utf-8")
            score_file(model, upload, Path(folder) / "scored.csv")
            return text, (Path(folder) / "scored.csv").read_text(encoding="utf-8")
    except Exception:  # the docs never stop the service: no response example then
        return text, None
