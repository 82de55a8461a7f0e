"""``/v1/predict``: customers as JSON objects, scored as the rows of a file would be.

Each customer's keys are column headers, as in the file the model was fitted on (or the
well-known fields' own names, which the alias table matches like any header); each value
becomes the cell a file would hold: a string as it is, a number as written in the JSON
(``70.50`` stays ``70.50``; nothing is rounded through a float), null an empty cell. The
customers then go through the same reading, validation and scoring as a scored file
(:func:`custseg.io.score_files.score_table_batches`), so a customer comes back with the
same segment, flags and ``row_issues`` it would get as a row of a file, in the same
order. A value no file cell can be (true/false, an object, a list) makes its customer
invalid, saying so; it never fails the request nor gets a default.

The body is parsed strictly: duplicate keys, NaN and Infinity, nesting deeper than the
limit and text that is not UTF-8 are refused (400), as is a body of the wrong shape
(422). JSON numbers are kept as their literal text, so a 10,000-digit number costs no
big-integer conversion.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from custseg.errors import CustsegError, shown
from custseg.io.score_files import income_warnings, score_table_batches
from custseg.io.source import table_from_frame
from custseg.model.scoring import SCORE_COLUMNS
from custseg.model.segmentation import SegmentationModel
from custseg.service.problems import bad_request, from_library, wrong_shape
from custseg.service.settings import Settings
from custseg.table.fields import ID
from custseg.table.headers import ALIASES, match_headers, normalise_header
from custseg.table.parse import currency_in

#: The fields of one result, in order.
RESULT_FIELDS = ("customer_id", *SCORE_COLUMNS)

#: The name the request's table goes by in messages.
REQUEST = "request"


class Number(str):
    """A JSON number, kept as the text it was written in (the cell a file would hold)."""

    __slots__ = ()


def _duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"the key {shown(twice)} appears twice in one object; give each "
                         "key once")
    return out


def _no_constant(word: str) -> None:
    raise ValueError(f"{word} is not a JSON number; send null for a missing value")


def parse_body(body: bytes, settings: Settings) -> Any:
    """The JSON document of ``body``, parsed strictly (see the module's docstring)."""
    if not body.strip():
        raise bad_request('the body is empty; send {"customers": [{...}, ...]} as JSON')
    try:
        document = json.loads(body, object_pairs_hook=_duplicate_keys, parse_int=Number,
                              parse_float=Number, parse_constant=_no_constant)
    except RecursionError:
        raise bad_request(f"the JSON nests deeper than {settings.max_depth} levels; a "
                          "customer's values are numbers, strings or null") from None
    except UnicodeDecodeError:
        raise bad_request("the body is not UTF-8 text; send JSON encoded as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise bad_request(f"the body is not valid JSON ({exc.msg} at line {exc.lineno}, "
                          f"column {exc.colno}); send {{\"customers\": [...]}}") from None
    except ValueError as exc:  # a duplicate key, NaN or Infinity
        raise bad_request(f"the body is not valid JSON for this service: {exc}") from None
    _check_depth(document, settings.max_depth)
    return document


def _check_depth(document: Any, limit: int) -> None:
    """Refuse nesting beyond ``limit`` (without recursion: the check must not be what
    a deep document breaks)."""
    stack = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise bad_request(f"the JSON nests deeper than {limit} levels; a customer's "
                              "values are numbers, strings or null")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))


@dataclass(frozen=True)
class Customers:
    """The customers of a request as the columns of a table: a header (the columns the
    model can read, see :func:`columns_of`), a cell per customer per column, the JSON
    value each customer gave per column (for its id's echo), and the customers that
    cannot be scored as sent, with why."""

    raw: list[dict[str, Any]]
    header: list[str]
    cells: dict[str, list[str | None]]
    values: dict[str, list[Any]]
    bad: dict[int, str]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"true/false ({'true' if value else 'false'})"
    return "an object" if isinstance(value, dict) else "a list"


def columns_of(model: SegmentationModel, keys: Sequence[str]) -> dict[str, str | None]:
    """The column each key of a request feeds, or None for a key the model cannot read.

    A JSON object has no column order and each customer its own keys, so the keys are
    gathered by what they name, not by their spelling: every key equal after
    normalisation (case, spaces, punctuation, as the alias table compares headers) to a
    column the model reads feeds that column under the model's spelling ('AGE',
    ' age ' and 'Age' are all 'age'), and keys that are one entry of the alias table
    feed one column: the model's when it reads that entry ('Income' is 'annual_income'),
    else the first spelling seen ('CustomerID', 'customer id'). A
    header naming another currency stays as it is, to be refused as a file's would be.
    Keys of the same field under different entries ('Annual Income (k$)' and
    'annual_income', of different units) stay apart, and meet as a file's two columns
    would. Other keys are passed by: a result holds no input column, so a key the model
    cannot read changes nothing but the cost of a request (1,000 unused keys made a
    54 kB request take 2.4 s and 270 MB)."""
    targets = needed_headers(model)
    by_norm: dict[str, str | None] = {}
    by_alias: dict[Any, str | None] = {}
    for target in targets:
        norm = normalise_header(target)
        by_norm[norm] = target if by_norm.get(norm, target) == target else None
        if norm in ALIASES:
            entry = ALIASES[norm]
            by_alias[entry] = target if by_alias.get(entry, target) == target else None
    out: dict[str, str | None] = {}
    first_of: dict[Any, str] = {}
    for key in keys:
        norm = normalise_header(key)
        if key in targets or currency_in(key) is not None:
            out[key] = key
        elif by_norm.get(norm) is not None:
            out[key] = by_norm[norm]
        elif norm in ALIASES:
            entry = ALIASES[norm]
            out[key] = by_alias.get(entry) or first_of.setdefault(entry, key)
        else:
            out[key] = None
    return out


def customers_of(document: Any, settings: Settings,
                 model: SegmentationModel | None = None) -> Customers:
    """The customers of a parsed body, checked for shape and limits (422 otherwise);
    with ``model``, their keys gathered into the columns it reads (:func:`columns_of`),
    else every key a column of its own."""
    if not isinstance(document, dict):
        raise wrong_shape(f"the body is {_json_type(document)}; send a JSON object "
                          '{"customers": [{...}, ...]}')
    extra = [k for k in document if k != "customers"]
    if extra:
        raise wrong_shape(f"the body has the key {shown(extra[0])}; it takes only "
                          '"customers": a list of objects, one per customer')
    if "customers" not in document:
        raise wrong_shape('the body has no "customers"; send {"customers": [{...}, ...]}')
    raw = document["customers"]
    if not isinstance(raw, list):
        raise wrong_shape(f'"customers" is {_json_type(raw)}; it must be a list of objects, '
                          "one per customer")
    if not raw:
        raise wrong_shape('"customers" is empty; send at least one customer')
    if len(raw) > settings.max_rows:
        raise wrong_shape(f"{len(raw):,} customers in one request; this service takes at "
                          f"most {settings.max_rows:,}. Split them, or score a file with "
                          "POST /v1/score")
    header: dict[str, None] = {}
    for i, customer in enumerate(raw):
        if not isinstance(customer, dict):
            raise wrong_shape(f"customers[{i}] is {_json_type(customer)}; each customer is "
                              "an object of column: value")
        for key in customer:
            if key not in header:
                if len(key) > settings.max_text_chars:
                    raise wrong_shape(f"customers[{i}] has a key of {len(key):,} characters; "
                                      f"a key is a column header of at most "
                                      f"{settings.max_text_chars:,}")
                header[key] = None
                if len(header) > settings.max_keys:
                    raise wrong_shape(f"the customers have more than {settings.max_keys:,} "
                                      "different keys; send the columns the model reads "
                                      "(see GET /v1/model)")
    column_of = columns_of(model, list(header)) if model is not None else {k: k for k in header}
    names = list(dict.fromkeys(c for c in column_of.values() if c is not None))
    cells: dict[str, list[str | None]] = {k: [None] * len(raw) for k in names}
    values: dict[str, list[Any]] = {k: [None] * len(raw) for k in names}
    bad: dict[int, str] = {}
    limit = settings.max_text_chars
    for i, customer in enumerate(raw):
        wrong, twice = [], []
        given: dict[str, str] = {}
        for key, value in customer.items():
            if isinstance(value, str) and len(value) > limit:
                raise wrong_shape(f"customers[{i}][{shown(key)}] is {len(value):,} "
                                  f"characters long; a value may have at most {limit:,}")
            if value is not None and not isinstance(value, str):
                wrong.append(f"{shown(key)} is {_kind(value)}")
            column = column_of[key]
            if column is None:
                continue
            if column in given:
                twice.append(f"{shown(given[column])} and {shown(key)} are one column "
                             f"({shown(column)}); give it once")
                continue
            given[column] = key
            values[column][i] = value
            if isinstance(value, str):
                cells[column][i] = str(value)
        why = twice + ([("; ".join(wrong) + " — a value is a number, a string or null "
                         "(for a missing value)")] if wrong else [])
        if why:
            bad[i] = "not scored: " + "; ".join(why)
    return Customers(raw=raw, header=names, cells=cells, values=values, bad=bad)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, Number):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def needed_headers(model: SegmentationModel) -> list[str]:
    """The keys the model reads from a customer: each field it needs (by the header
    the fit was told to read it from, else the field's name) and each input column its
    other features read, by header."""
    spec = model.config.spec
    fields = [f for f in model.encoding.needs if f not in spec.names]
    return [*(spec.mapping.get(f, f) for f in fields), *spec.source_columns()]


def _absent(model: SegmentationModel, header: Sequence[str]) -> list[str]:
    """The headers the model reads that no customer gives: added as empty columns, so
    that each customer is flagged for the missing value instead of the whole request
    being refused (a file without the column would be)."""
    spec = model.config.spec
    try:
        found = match_headers(header, None, None).fields
    except CustsegError:
        found = {}
    normalised = {normalise_header(h) for h in header}
    out = []
    for field_ in (f for f in model.encoding.needs if f not in spec.names):
        wanted = spec.mapping.get(field_)
        if wanted is not None:
            if wanted not in header:
                out.append(wanted)
        elif field_ not in found and normalise_header(field_) not in normalised:
            out.append(field_)
    for column in spec.source_columns():
        if column not in header and normalise_header(column) not in normalised:
            out.append(column)
    return out


def score_customers(model: SegmentationModel, document: Any, settings: Settings,
                    warnings: list[str] | None = None) -> list[dict[str, Any]]:
    """One result per customer, in input order (see the module's docstring); what
    ``custseg score`` would warn of for these customers as a file (an income column read
    in dollars) is added to ``warnings``."""
    customers = customers_of(document, settings, model)
    mapping = model.config.spec.mapping or None
    header = _ordered(model, customers.header, mapping)
    n = len(customers.raw)
    cells = dict(customers.cells)
    for name in _absent(model, header):
        header.append(name)
        cells[name] = [None] * n
    frame = pd.DataFrame({i: pd.Series(cells[h], dtype=object) for i, h in enumerate(header)})
    frame.columns = header
    try:
        table = table_from_frame(frame, REQUEST, mapping, None)
        table.structural.update(customers.bad)
        (_, _, scored), = score_table_batches(model, table, batch_rows=n)
        if warnings is not None:
            read = table.expect(model.encoding.needs, model.config.spec)
            warnings.extend(income_warnings(read.match, read.number_format))
    except CustsegError as exc:
        raise from_library(exc) from None
    id_position = table.match.fields.get(ID)
    id_key = header[id_position] if id_position is not None else None
    ids = ([_echo(v) for v in customers.values[id_key]] if id_key in customers.values
           else [None] * n)
    # the input columns (as many as the header), then the contract's, then an RFM
    # model's scores, which a result does not hold
    columns = {name: scored.column(len(header) + j) for j, name in enumerate(SCORE_COLUMNS)}
    return _results(ids, columns)


def _ordered(model: SegmentationModel, header: list[str],
             mapping: dict[str, str] | None) -> list[str]:
    """The request's columns in an order of the model's, the customer id first: a file's
    first column is where a spreadsheet's "Total" row is looked for, and a request's
    first key must not decide that (a customer was flagged as a summary row by a key
    another customer happened to send first)."""
    rank = {h: i for i, h in enumerate(needed_headers(model))}
    ordered = sorted(header, key=lambda h: (rank.get(h, len(rank)), header.index(h)))
    try:
        found = match_headers(ordered, mapping, None).fields
    except CustsegError:
        return ordered  # refused again, with the library's message, when read
    if ID in found:
        ordered.insert(0, ordered.pop(found[ID]))
    return ordered


def _results(ids: list[Any], columns: dict[str, pa.ChunkedArray]) -> list[dict[str, Any]]:
    values = {name: column.to_pylist() for name, column in columns.items()}
    confidence = [None if c is None or not math.isfinite(c) else c
                  for c in values["confidence"]]
    return [
        {"customer_id": ids[i], "segment_id": values["segment_id"][i],
         "segment_name": values["segment_name"][i], "confidence": confidence[i],
         "atypical": values["atypical"][i], "row_status": values["row_status"][i],
         "row_issues": values["row_issues"][i] or ""}
        for i in range(len(ids))
    ]


def _echo(value: Any) -> Any:
    """A customer id as it was sent: a string as it is, a number as a number (one JSON
    cannot write, 1e400, as its text), anything else null (the customer is invalid)."""
    if isinstance(value, Number):
        text = str(value)
        try:
            if not any(c in text for c in ".eE"):
                return int(text) if len(text) <= 4_000 else text
            number = float(text)
            return number if math.isfinite(number) else text
        except ValueError:
            return text
    if isinstance(value, str):
        return value
    return None
