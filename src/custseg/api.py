"""The library's front door: fit, score, predict, save and load in a few calls.

>>> import custseg
>>> model = custseg.fit(custseg.make_customers(500), params={"n_clusters": 5})
>>> [s.name for s in model.segments][:2]  # doctest: +SKIP
['Balanced Shoppers', 'Affluent Spenders']
>>> custseg.predict_one(model, age=30, annual_income=80, spending_score=85)  # doctest: +SKIP
{'segment_id': 1, 'segment_name': 'Affluent Spenders', 'confidence': 1.0, 'atypical': False}

Inputs may be a path, upload bytes, a :class:`~custseg.io.source.CustomerTable` or a
pandas DataFrame with any recognised headers (see the README's input format).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from custseg.cluster.algorithms import get_algorithm
from custseg.cluster.features import fit_encoding
from custseg.cluster.suggestions import Suggestion
from custseg.cluster.suggestions import suggest as suggest_params
from custseg.errors import CustsegError, shown
from custseg.io.rulebooks import default_rulebook
from custseg.io.score_files import score_table
from custseg.io.source import CustomerTable, ReadLimits, read_table, table_from_frame
from custseg.model.identity import keep_identities, match_segments, migration
from custseg.model.scoring import score_frame
from custseg.model.segmentation import (
    ModelConfig,
    SegmentationModel,
    fit_model,
    fitted_transforms,
)
from custseg.segments.profile import Rulebook
from custseg.table.fields import GENDER, ID, INCOME, Ranges
from custseg.table.inspect import Inspection, inspect_columns
from custseg.table.notes import dollar_income_message, other_currency_message
from custseg.table.roles import FIELD_ROLES
from custseg.table.spec import decide_date_formats, resolve_features, source_key

TableLike = CustomerTable | pd.DataFrame | str | os.PathLike[str] | bytes


def _table(
    data: TableLike, mapping: Mapping[str, str] | None, income_unit: str | None
) -> CustomerTable:
    """Any accepted input as a text table, checked the same way whatever its origin."""
    if isinstance(data, CustomerTable):
        return data
    if isinstance(data, pd.DataFrame):
        return table_from_frame(data, "DataFrame", mapping, income_unit)
    return read_table(data, mapping=mapping, income_unit=income_unit)


def _with_date_formats(table: CustomerTable, spec, given: Mapping[str, str] | None):
    """The spec with each date column's format decided over the whole table."""
    if not any(f.source == "derived" for f in spec.extra) and not given:
        return spec
    positions = table.match.with_sources(spec.source_columns()).sources
    return decide_date_formats(
        spec, lambda header: table.data.column(positions[header]), given)


def _auto_features(table: CustomerTable, features: Sequence[str] | str | None,
                   derive: tuple[str, ...], date_formats: Mapping[str, str] | None,
                   ) -> tuple[Sequence[str] | str | None, tuple[str, ...], str | None]:
    """``--features auto``, or no features for a table without the Mall fields: the
    features and derivations :func:`inspect` suggests, with a note saying so."""
    from custseg.table.fields import NUMERIC_FIELDS
    from custseg.table.spec import parse_derivation_name

    asked_auto = isinstance(features, str) and features.strip() == "auto"
    lacks = any(f not in table.match.fields for f in NUMERIC_FIELDS)
    if not asked_auto and (features is not None or derive or not lacks
                           or table.match.refused):
        return features, derive, None
    suggestion = inspect(table, date_formats=date_formats)
    chosen = list(suggestion.suggested_features)
    if not chosen:
        from custseg.errors import ParameterError

        raise ParameterError("no column of this table can be segmented on (run custseg "
                             "inspect to see why); choose the columns with their headers",
                             parameter="features")
    derivations = tuple(d for d in suggestion.suggested_derivations
                        if parse_derivation_name(d) in chosen)
    mine = tuple(d for d in derive if parse_derivation_name(d) not in chosen)
    chosen += [parse_derivation_name(d) for d in mine]
    note = ("features chosen from the table's columns, as custseg inspect suggests: "
            + ", ".join(chosen)
            + (f" (derived: {'; '.join(derivations)})" if derivations else "")
            + "; give --features to choose others")
    return chosen, (*derivations, *mine), note


def _default_needs_fields(table: CustomerTable, names: Sequence[str] | None) -> None:
    """With no features asked for, the default is the Mall fields: a table without them
    is told to choose its own, with its columns listed."""
    from custseg.errors import ParameterError
    from custseg.table.fields import NUMERIC_FIELDS

    missing = [f for f in NUMERIC_FIELDS if f not in table.match.fields]
    if names is not None or len(missing) < len(NUMERIC_FIELDS) or table.match.refused:
        return  # some found: a header to map (--map) is the likelier fix
    others = [c for i, c in enumerate(table.header) if i not in table.match.fields.values()]
    listed = ", ".join(shown(c, 40) for c in others[:12]) + (" …" if len(others) > 12 else "")
    raise ParameterError(
        f"this table has no column for {', '.join(missing)}, the default features; choose "
        f"the columns to cluster on by their headers (its columns: {listed})",
        parameter="features")


def fit(
    data: TableLike,
    *,
    algorithm: str = "kmeans",
    params: Mapping[str, Any] | None = None,
    features: Sequence[str] | str | None = None,
    use_gender: bool = False,
    n_neighbors: int = 3,
    sample_size: int | str | None = None,
    random_state: int = 0,
    ranges: Ranges | None = None,
    rulebook: Rulebook | None = None,
    mapping: Mapping[str, str] | None = None,
    income_unit: str | None = None,
    reference: SegmentationModel | None = None,
    derive: Sequence[str] = (),
    transforms: Mapping[str, str] | None = None,
    date_formats: Mapping[str, str] | None = None,
    categorical: Sequence[str] | str | None = None,
) -> SegmentationModel:
    """Fit a segmentation on the valid rows of ``data`` (invalid rows are counted and
    reported in ``model.quality``, never imputed).

    ``features`` are well-known fields, input headers (as written) or derived names
    (``derive``: ``"NAME=EXPR"`` items, see docs/derivations.md); ``transforms`` maps a
    feature to ``auto`` (the default: a log for skewed values), ``none``, ``log1p`` or
    ``signed_log1p``. The model keeps how to find each feature, so scoring a table of
    the same columns needs no option again. ``categorical`` names input columns to
    cluster on by their categories (one-hot, see :mod:`custseg.cluster.features`); the
    categories seen at fit are kept in the model, and scoring flags any other value.

    With a ``reference`` model (last month's, say), segments that match one of its
    segments keep that segment's id, name and strategy (see :mod:`custseg.model.identity`).
    """
    ModelConfig(  # the settings that need no table are checked before it is read
        algorithm=algorithm, params=dict(params or {}), use_gender=use_gender,
        n_neighbors=n_neighbors, sample_size=sample_size, random_state=random_state,
        ranges=ranges or Ranges(),
    ).resolved()
    table = _table(data, mapping, income_unit)
    features, derive, note = _auto_features(table, features, tuple(derive), date_formats)
    names, spec, chosen = resolve_features(
        table.match, features, tuple(derive), transforms, ranges or Ranges(),
        categorical=categorical)
    _default_needs_fields(table, names)
    spec = _with_date_formats(table, spec, date_formats)
    config = ModelConfig(
        algorithm=algorithm,
        params=dict(params or {}),
        features=names,
        use_gender=use_gender,
        n_neighbors=n_neighbors,
        sample_size=sample_size,
        random_state=random_state,
        ranges=ranges or Ranges(),
        spec=spec,
        transforms=chosen,
    ).resolved()
    validated = table.validated(config.needs, config.ranges, config.spec)
    model = fit_model(table.fields_frame(), config, rulebook or default_rulebook(),
                      validated=validated)
    if note:
        model = replace(model, warnings=(note, *model.warnings))
    if reference is not None:
        model, _ = keep_identities(model, reference)
    return model


def score(
    model: SegmentationModel,
    data: TableLike,
    *,
    mapping: Mapping[str, str] | None = None,
    income_unit: str | None = None,
) -> pd.DataFrame:
    """Every input row with the contract's segment columns added (see the README)."""
    table = _table(data, mapping, income_unit)
    if isinstance(data, pd.DataFrame):
        table = table.expect(model.encoding.needs, model.config.spec)
        scores = score_frame(
            model, table.fields_frame(), decimal=table.decimal,
            income_unit=table.match.income_unit, structural=table.structural,
        )
        scores.index = data.index
        clashing = {c: f"{c}_input" for c in data.columns if c in scores.columns}
        return pd.concat([data.rename(columns=clashing), scores], axis=1)
    return score_table(model, table)


def predict_one(
    model: SegmentationModel,
    *,
    age: float | None = None,
    annual_income: float | None = None,
    spending_score: float | None = None,
    gender: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assign one customer; raises :class:`CustsegError` naming any invalid value.

    ``values`` gives the model's input columns by header, as in the fitted file (derived
    features are computed from them), or a column feature by its name; the keyword
    arguments stay for the well-known fields.
    """
    row: dict[str, Any] = {"age": age, "annual_income": annual_income,
                           "spending_score": spending_score}
    if gender is not None:
        row[GENDER] = gender
    spec = model.config.spec
    sources = spec.source_columns()
    for name, value in (values or {}).items():
        kind, target = _input_column(model, name)
        row[target if kind == "field" else source_key(target)] = value
    frame = pd.DataFrame([row], dtype=object)
    missing = [f for f in model.encoding.needs if f not in spec.names and row.get(f) is None]
    missing += [c for c in sources if row.get(source_key(c)) is None]
    if missing:
        raise CustsegError(
            f"missing {', '.join(missing)}, which this model needs; give a value for each."
        )
    result = score_frame(model, frame).iloc[0]
    if result["row_status"] != "ok":
        raise CustsegError(f"cannot place this customer: {result['row_issues']}.")
    out = {
        "segment_id": int(result["segment_id"]),
        "segment_name": str(result["segment_name"]),
        "confidence": float(result["confidence"]),
        "atypical": bool(result["atypical"]),
    }
    if result["row_issues"]:
        out["notes"] = str(result["row_issues"])
    return out


def input_names(model: SegmentationModel) -> list[str]:
    """What :func:`predict_one`'s ``values`` may name: the fields the model needs, then
    the input columns its other features read."""
    spec = model.config.spec
    fields = [f for f in model.encoding.needs if f not in spec.names and f != GENDER]
    return [*fields, *spec.source_columns()]


def _input_column(model: SegmentationModel, name: str) -> tuple[str, str]:
    """``("field", field)`` or ``("column", header)`` for a name a caller gives: a field
    the model needs, an input column it reads or a column feature's name; exactly, else
    after the header normalisation. Anything else is refused, saying what it reads."""
    from custseg.table.headers import normalise_header

    spec = model.config.spec
    feature = spec.get(name)
    if feature is not None and feature.source == "derived":
        used = ", ".join(c for c in spec.source_columns() if c in (feature.expr or ""))
        raise CustsegError(f"{name} is computed ({feature.expr}); give "
                           f"{used or 'its columns'} instead.")
    if feature is not None:
        return "column", feature.column or name
    names = input_names(model)
    hits = [n for n in names if n == name] or [
        n for n in names if normalise_header(n) == normalise_header(name)]
    if len(hits) == 1:
        target = hits[0]
        return ("column", target) if target in spec.source_columns() else ("field", target)
    raise CustsegError(f"this model reads no column {shown(name)}; it reads "
                       f"{', '.join(shown(n, 40) for n in names)}.")


def customers(
    model: SegmentationModel,
    data: TableLike,
    *,
    mapping: Mapping[str, str] | None = None,
    income_unit: str | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The valid customers of ``data`` (typed canonical values) and their segments."""
    table = _table(data, mapping, income_unit)
    values = table.validated(model.encoding.needs, model.config.ranges,
                             model.config.spec).valid_values()
    if len(values) == 0:
        raise CustsegError("no valid customer in the data to place in the segments.")
    return values, model.assign(values).labels


def suggest(
    data: TableLike,
    *,
    algorithm: str = "kmeans",
    params: Mapping[str, Any] | None = None,
    features: Sequence[str] | str | None = None,
    use_gender: bool = False,
    random_state: int = 0,
    ranges: Ranges | None = None,
    mapping: Mapping[str, str] | None = None,
    income_unit: str | None = None,
    derive: Sequence[str] = (),
    transforms: Mapping[str, str] | None = None,
    date_formats: Mapping[str, str] | None = None,
    categorical: Sequence[str] | str | None = None,
) -> Suggestion:
    """Recommended parameters for ``algorithm`` on ``data``, with a one-sentence reason.

    The valid rows are those :func:`fit` would use with the same input options; the
    result's ``n_rows`` counts them and ``sample_rows`` the random sample searched.
    """
    table = _table(data, mapping, income_unit)
    names, spec, chosen = resolve_features(table.match, features, tuple(derive), transforms,
                                           ranges or Ranges(), categorical=categorical)
    spec = _with_date_formats(table, spec, date_formats)
    config = ModelConfig(algorithm=algorithm, params=dict(params or {}), features=names,
                         use_gender=use_gender, random_state=random_state,
                         ranges=ranges or Ranges(), spec=spec, transforms=chosen).resolved()
    values = table.validated(config.needs, config.ranges, config.spec).valid_values()
    if len(values) < 10:
        raise CustsegError(f"only {len(values)} valid customers: too few to suggest settings.")
    encoding = fit_encoding(values, config.features, config.use_gender,
                            fitted_transforms(values, config), config.categorical)
    X = encoding.transform(values)
    spec = get_algorithm(config.algorithm)
    fitted = min(len(values), spec.fit_sample or len(values))
    return suggest_params(X, config.algorithm, config.params, feature_names=config.features,
                          fitted_rows=fitted, seed=random_state,
                          blocks=encoding.blocks if spec.mixed else ())


def compare_models(
    old: SegmentationModel, new: SegmentationModel, data: TableLike
) -> dict[str, Any]:
    """How ``new``'s segments match ``old``'s, and how the customers of ``data`` moved."""
    values, _ = customers(new, data)
    matching = match_segments(old, new)
    moved = migration(old, new, values, matching)
    return {**matching.to_dict(old, new), "migration": moved.to_dict()}


def report_html(
    model: SegmentationModel, data: TableLike | None = None, *, generated: str = "",
    source: str = "",
) -> str:
    """The self-contained HTML report (see :mod:`custseg.model.report`)."""
    from custseg.model.report import build_report  # plotly: loaded only for a report

    values = labels = None
    if data is not None:
        values, labels = customers(model, data)
    return build_report(model, values=values, labels=labels, generated=generated, source=source)


def inspect(
    data: TableLike,
    *,
    mapping: Mapping[str, str] | None = None,
    income_unit: str | None = None,
    date_formats: Mapping[str, str] | None = None,
    roles: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    limits: ReadLimits | None = None,
) -> Inspection:
    """What each column of ``data`` is (kind, role, unit, missing share, distinct values,
    skew, transform) and what to segment it on: features, derivations, columns to
    profile by (see :mod:`custseg.table.inspect`).

    Every row is read (up to ``limits``' row cap, as for :func:`fit`). ``mapping`` and
    ``income_unit`` are read as :func:`fit` reads them: a mapped field's column takes the
    field's role (a mapped ``customer_id`` is an id), a stated income unit is the income
    column's unit. ``date_formats`` gives ``{column: strftime format}`` for date columns
    whose format cannot be told; ``roles`` and ``units`` set a column's role and unit.

    An income column that fitting would refuse (in dollars under a header with no unit,
    or in another currency) is described, with a warning saying what fitting will ask.
    """
    if isinstance(data, CustomerTable):
        table = data
    elif isinstance(data, pd.DataFrame):
        table = table_from_frame(data, "DataFrame", mapping, income_unit, check_income=False)
    else:
        table = read_table(data, mapping=mapping, income_unit=income_unit, limits=limits,
                           check_income=False)
    match = table.match
    given_roles = {match.source(f): FIELD_ROLES[f] for f in (mapping or {})
                   if f in FIELD_ROLES and f in match.fields}
    given_units = {}
    if INCOME in match.fields and match.income_unit_source == "given":
        given_units[match.source(INCOME)] = match.income_unit
    ids = [match.source(ID)] if ID in (mapping or {}) and ID in match.fields else []
    rows = table.data
    if table.structural:  # not customers: left out, as fitting leaves them out
        keep = np.ones(table.n_rows, dtype=bool)
        keep[list(table.structural)] = False
        rows = rows.filter(pa.array(keep))
    columns = [rows.column(i) for i in range(len(table.header))]
    inspection = inspect_columns(
        columns, table.header, date_formats=date_formats, decimal=table.decimal,
        roles={**given_roles, **(roles or {})}, units={**given_units, **(units or {})},
        id_columns=ids,
    )
    return replace(inspection, warnings=tuple(_table_warnings(table)))


def _table_warnings(table: CustomerTable) -> list[str]:
    """What a reader of the inspection should know that the columns do not say."""
    out = []
    match = table.match
    if INCOME in match.fields:
        column = table.data.column(match.fields[INCOME]).to_pandas()
        header = match.source(INCOME)
        message = other_currency_message(column, header)
        if message is None and match.income_unit_source == "default":
            mixed = (table.number_format.mixed.get(INCOME)
                     if table.number_format is not None else None)
            message = dollar_income_message(column, table.decimal, header, mixed=mixed,
                                            decided=table.number_format is not None)
        if message:
            out.append(f"fitting will refuse this table as it is: {message}")
    if table.structural:
        out.append(
            f"{len(table.structural):,} of {table.n_rows:,} rows are not single customers "
            "(summary rows such as 'Total', or rows with more or fewer fields than the "
            "header): they are left out here, as fitting leaves them out"
        )
    return out
