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
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from custseg.cluster.algorithms import get_algorithm
from custseg.cluster.features import fit_encoding
from custseg.cluster.suggestions import Suggestion
from custseg.cluster.suggestions import suggest as suggest_params
from custseg.errors import CustsegError, shown
from custseg.io.rfm import CustomerLog
from custseg.io.rulebooks import default_rulebook
from custseg.io.score_files import ScoreReport, score_table, score_table_batches
from custseg.io.source import CustomerTable, ReadLimits, read_table, table_from_frame
from custseg.model.drift import measure as measure_drift
from custseg.model.identity import keep_identities, match_segments, migration
from custseg.model.scoring import score_frame
from custseg.model.segmentation import (
    ModelConfig,
    SegmentationModel,
    fit_model,
    fitted_transforms,
)
from custseg.model.typicality import Typicality, typicality
from custseg.segments.categories import profilable
from custseg.segments.profile import Rulebook
from custseg.table.fields import GENDER, ID, INCOME, NUMERIC_FIELDS, Ranges
from custseg.table.headers import match_headers, renamed_clashes
from custseg.table.inspect import Inspection, inspect_columns
from custseg.table.notes import dollar_income_note, other_currency_message
from custseg.table.roles import FIELD_ROLES
from custseg.table.spec import decide_date_formats, resolve_features, source_key
from custseg.table.transactions import given_columns, returns_only_rule

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


def _with_read_settings(spec, table: CustomerTable, mapping: Mapping[str, str] | None,
                        names: Sequence[str] | None, use_gender: bool):
    """The spec with what reading the table needed beyond its headers: the columns
    mapped to fields (``mapping``) and the income unit, when it was stated or told by
    the values, so that scoring a table of the same columns needs neither again."""
    match = table.match
    needs = set(names or NUMERIC_FIELDS) | ({GENDER} if use_gender else set())
    kept = {f: str(h) for f, h in (mapping or {}).items()
            if f in match.fields and f in needs and storable_header(str(h))}
    # the unit the fit read incomes in, unless it was the default k$: stated, told by
    # the values, or named by the header ("Annual Income ($)")
    unit = (match.income_unit if INCOME in needs and INCOME in match.fields
            and (match.income_unit_source in ("given", "values") or match.income_unit == "$")
            else None)
    return replace(spec, mapping=kept, income_unit=unit) if kept or unit else spec


def reading_notes(table: CustomerTable, config: ModelConfig) -> list[str]:
    """What a fit's output must say about how ``table`` was read beyond its headers
    (an income column read in dollars by its values)."""
    note = _income_note(table.match, config.needs)  # as read, before the model's spec
    return [note] if note else []


def storable_header(header: str) -> bool:
    """Whether a model file can keep ``header`` (as a mapping's column): the model
    schema's text rule for feature names."""
    from custseg.table.spec import MAX_FEATURE_NAME
    from custseg.table.text import text_problem

    return text_problem(header, MAX_FEATURE_NAME, empty=False) is None


def _income_note(match, needs: Sequence[str]) -> str | None:
    """What the output says about the income column's unit when no header said it."""
    if INCOME not in needs or INCOME not in match.fields:
        return None
    return dollar_income_note(match.source(INCOME), match.income_unit_source)


def model_mapping(model: SegmentationModel, mapping: Mapping[str, str] | None) -> dict[str, str]:
    """The mapping to read a table for ``model`` with: the one the model was fitted
    with, each field given in ``mapping`` taking its own column instead."""
    return {**model.config.spec.mapping, **(mapping or {})}


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
            + "; choose others with --features on the command line, features= in Python, "
            "or the sidebar's Features in the dashboard")  # a model file's note, read anywhere
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


class _Chosen(tuple):
    """Columns to profile by already chosen by :func:`profile_choice` (not checked again)."""


def _header_problem(header: str) -> str | None:
    """Why a model file cannot keep ``header`` as a column to profile by, or None."""
    from custseg.table.spec import MAX_FEATURE_NAME
    from custseg.table.text import text_problem

    problem = text_problem(header, MAX_FEATURE_NAME, empty=False)
    return None if problem is None else f"its header {problem}"


def profile_columns(table: CustomerTable,
                    given: Sequence[str] | str | None = None) -> tuple[str, ...]:
    """The columns (headers) a fit profiles its segments by: ``given`` (headers as
    written, else after normalisation; each of at most 20 values), or by default every
    categorical and flag column of at most 20 values (see :func:`inspect`) whose header a
    model file can hold, in header order, at most
    :data:`custseg.segments.categories.MAX_COLUMNS` (see :func:`profile_choice`)."""
    return profile_choice(table, given)[0]


def profile_choice(table: CustomerTable, given: Sequence[str] | str | None = None,
                   ) -> tuple[tuple[str, ...], list[str]]:
    """:func:`profile_columns`, and the warnings of the default choice: columns left out
    because a model file cannot hold their header, or beyond the bound."""
    from custseg.errors import ParameterError
    from custseg.segments.categories import MAX_COLUMNS
    from custseg.table.headers import normalise_header
    from custseg.table.spec import split_features

    header = table.header
    if isinstance(given, _Chosen):
        return tuple(given), []
    if given is not None:
        names = split_features(given) if isinstance(given, str) else list(given)
        out: list[str] = []
        for name in names:
            hits = [h for h in header if h == name] or [
                h for h in header if normalise_header(h) == normalise_header(name)]
            if not hits:
                listed = ", ".join(shown(h, 40) for h in header[:12])
                raise ParameterError(
                    f"there is no column {shown(name)} to profile by; the columns are "
                    f"{listed}" + (" …" if len(header) > 12 else ""), parameter="profile_by")
            problem = _header_problem(hits[0]) or profilable(_column_cells(table, hits[0]))
            if problem:
                raise ParameterError(f"cannot profile by {shown(name)}: {problem}",
                                     parameter="profile_by")
            if hits[0] not in out:
                out.append(hits[0])
        if len(out) > MAX_COLUMNS:
            raise ParameterError(f"{len(out)} columns to profile by; give at most "
                                 f"{MAX_COLUMNS}", parameter="profile_by")
        return tuple(out), []
    chosen, unstorable = _profilable_columns(table)
    warnings = [f"not profiled by {shown(h, 40)}: {_header_problem(h)} (a model file "
                "cannot hold it); rename the column to profile by it" for h in unstorable]
    if len(chosen) > MAX_COLUMNS:
        rest = chosen[MAX_COLUMNS:]
        warnings.append(
            f"{len(chosen):,} columns could be profiled by; profiled by the first "
            f"{MAX_COLUMNS}, {len(rest):,} left out ({', '.join(shown(h, 40) for h in rest[:5])}"
            + (" …" if len(rest) > 5 else "") + "); choose them with --profile-by")
    return tuple(chosen[:MAX_COLUMNS]), warnings


def _profilable_columns(table: CustomerTable) -> tuple[list[str], list[str]]:
    """Every categorical and flag column of at most 20 values, in header order (the first
    of a repeated header), and those of them whose header a model file cannot hold."""
    import pyarrow.compute as pc

    from custseg.segments.categories import MAX_VALUES
    from custseg.table.inspect import PROFILE_MAX

    header, rows = table.header, table.data
    few = [i for i in range(len(header)) if header.index(header[i]) == i
           and pc.count_distinct(rows.column(i)).as_py() <= MAX_VALUES + 1]  # + the blank
    chosen: list[str] = []
    unstorable: list[str] = []
    for i in few:
        try:
            found = inspect_columns([rows.column(i)], [header[i]], decimal=table.decimal)
        except CustsegError:  # a date column whose format cannot be told: not a category
            continue
        info = found.columns[0]
        if info.kind in ("categorical", "flag") and info.distinct <= PROFILE_MAX \
                and profilable(_column_cells(table, header[i])) is None:
            (unstorable if _header_problem(header[i]) else chosen).append(header[i])
    return chosen, unstorable


def _column_cells(table: CustomerTable, header: str) -> pd.Series:
    """One column of the table, as text, by its header (the first of that name)."""
    return table.data.column(table.header.index(header)).to_pandas().astype("string")


def profile_cells(table: CustomerTable, columns: Sequence[str]) -> pd.DataFrame:
    """The columns to profile by, as text, a row per row of the table; a column the
    table does not have (by header, exactly or after normalisation) is left out."""
    from custseg.table.headers import normalise_header

    out = {}
    for name in columns:
        hits = [h for h in table.header if h == name] or [
            h for h in table.header if normalise_header(h) == normalise_header(name)]
        if hits:
            column = table.data.column(table.header.index(hits[0]))
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                # arrow text, not a Python string a cell (the profiles code it by value)
                out[name] = pd.array(column, dtype=pd.ArrowDtype(column.type))
            else:
                out[name] = _column_cells(table, hits[0]).to_numpy(dtype=object)
    return pd.DataFrame(out, index=pd.RangeIndex(table.n_rows))


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
    profile_by: Sequence[str] | str | None = None,
    categorical: Sequence[str] | str | None = None,
) -> SegmentationModel:
    """Fit a segmentation on the valid rows of ``data`` (invalid rows are counted and
    reported in ``model.quality``, never imputed).

    Each segment is profiled by ``profile_by`` (headers), or by default by every
    categorical and flag column of at most 20 values (see :func:`profile_columns`);
    the model keeps the columns, so a report of new data profiles by them again.

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
    config = fit_config(
        table, features=features, derive=derive, transforms=transforms,
        date_formats=date_formats, algorithm=algorithm, params=params, use_gender=use_gender,
        n_neighbors=n_neighbors, sample_size=sample_size, random_state=random_state,
        ranges=ranges, mapping=mapping, profile_by=_Chosen(()), categorical=categorical)
    # the columns to profile by once the features are known good, with what the
    # default choice left out
    columns, profile_notes = profile_choice(table, profile_by)
    config = replace(config, spec=replace(config.spec, profile_by=columns))
    return fit_table(table, config, rulebook, reference=reference,
                     notes=(note, *profile_notes))


def fit_table(table: CustomerTable, config: ModelConfig, rulebook: Rulebook | None = None,
              *, reference: SegmentationModel | None = None,
              notes: Sequence[str | None] = ()) -> SegmentationModel:
    """Fit ``config`` (from :func:`fit_config`) on the valid rows of ``table``, profiled
    by the spec's columns; ``notes`` go first among the model's warnings, with what the
    output must say about how the table was read (an income read in dollars)."""
    validated = table.validated(config.needs, config.ranges, config.spec)
    model = fit_model(table.fields_frame(), config, rulebook or default_rulebook(),
                      validated=validated,
                      cells=profile_cells(table, config.spec.profile_by))
    said = [n for n in (*notes, *reading_notes(table, config)) if n]
    if said:
        model = replace(model, warnings=(*said, *model.warnings))
    if reference is not None:
        model, _ = keep_identities(model, reference)
    return model


def fit_config(
    table: CustomerTable,
    *,
    features: Sequence[str] | str | None = None,
    derive: Sequence[str] = (),
    transforms: Mapping[str, str] | None = None,
    roles: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    date_formats: Mapping[str, str] | None = None,
    algorithm: str = "kmeans",
    params: Mapping[str, Any] | None = None,
    use_gender: bool = False,
    n_neighbors: int = 3,
    sample_size: int | str | None = None,
    random_state: int = 0,
    ranges: Ranges | None = None,
    stability_resamples: int = 10,
    mapping: Mapping[str, str] | None = None,
    profile_by: Sequence[str] | str | None = None,
    categorical: Sequence[str] | str | None = None,
) -> ModelConfig:
    """The checked configuration :func:`fit` fits on ``table``: its features found in the
    table (see :func:`fit`), date formats decided over the whole table, and ``roles`` and
    ``units`` (by feature name) set on the features other than the well-known fields,
    whose roles and units are fixed. The dashboard builds its fits with this too."""
    names, spec, chosen = resolve_features(
        table.match, features, tuple(derive), transforms, ranges or Ranges(),
        categorical=categorical)
    _default_needs_fields(table, names)
    spec = _with_read_settings(_with_date_formats(table, spec, date_formats), table, mapping,
                               names, use_gender)
    spec = replace(spec, profile_by=profile_columns(table, profile_by))
    spec = _with_roles(spec, roles or {}, units or {})
    spec = replace(spec, returns_only=returns_only_rule(table.header, spec))
    return ModelConfig(
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
        stability_resamples=stability_resamples,
    ).resolved()


def _with_roles(spec, roles: Mapping[str, str], units: Mapping[str, str]):
    """``spec`` with the roles and units an analyst set; refused, naming the feature, for
    a well-known field (its role and unit are fixed), a name that is no feature, or a
    role or unit custseg does not know."""
    from custseg.errors import ParameterError
    from custseg.table.roles import ROLES
    from custseg.table.roles import UNITS as KNOWN_UNITS

    for parameter, given, allowed in (("roles", roles, ROLES), ("units", units, KNOWN_UNITS)):
        for name, value in given.items():
            if name in FIELD_ROLES:
                raise ParameterError(f"{shown(name)} is a well-known field: its role and unit "
                                     "are fixed.", parameter=parameter, key=name)
            if spec.get(name) is None:
                raise ParameterError(f"{shown(name)} is not a feature of this fit.",
                                     parameter=parameter, key=name)
            if value and value not in allowed:
                raise ParameterError(f"{shown(value)} for {shown(name)} is not one of "
                                     f"{', '.join(allowed)}.", parameter=parameter, key=name)
    if not roles and not units:
        return spec
    extra = tuple(replace(f, role=roles.get(f.name, f.role), unit=units.get(f.name, f.unit))
                  for f in spec.extra)
    return replace(spec, extra=extra)


def score(
    model: SegmentationModel,
    data: TableLike,
    *,
    mapping: Mapping[str, str] | None = None,
    income_unit: str | None = None,
) -> pd.DataFrame:
    """Every input row with the contract's segment columns added (see the README)."""
    table = _table(data, model_mapping(model, mapping), income_unit)
    if isinstance(data, pd.DataFrame):
        table = table.expect(model.encoding.needs, model.config.spec)
        scores = score_frame(
            model, table.fields_frame(), decimal=table.decimal,
            income_unit=table.match.income_unit, structural=table.structural,
        )
        scores.index = data.index
        renamed = renamed_clashes([str(c) for c in data.columns], list(scores.columns))
        clashing = {c: new for c, new in zip(data.columns, renamed, strict=True) if str(c) != new}
        return pd.concat([data.rename(columns=clashing), scores], axis=1)
    return score_table(model, table)


def score_summary(
    model: SegmentationModel,
    data: TableLike,
    *,
    mapping: Mapping[str, str] | None = None,
    income_unit: str | None = None,
) -> dict[str, Any]:
    """What ``custseg score --json`` says of a run, for a table scored in memory: rows,
    invalid and atypical rows, the rows of every segment, and each feature's drift (its
    population stability index against the customers fitted, flagged above 0.25; see
    :mod:`custseg.model.drift`)."""
    table = _table(data, model_mapping(model, mapping), income_unit)
    report = ScoreReport()
    for _, _, part in score_table_batches(model, table, counted=report.add_drift):
        report.add_table(part)
    summary = report.summary(model)
    summary.pop("output")
    return summary


def drift(
    model: SegmentationModel,
    data: TableLike,
    *,
    mapping: Mapping[str, str] | None = None,
    income_unit: str | None = None,
) -> list[dict[str, Any]]:
    """Each feature's population stability index (PSI) of ``data``'s valid rows against
    the customers ``model`` was fitted on: ``[{"feature", "psi", "flagged"}]``, psi None
    on fewer than 100 valid rows (see :mod:`custseg.model.drift`)."""
    table = _table(data, model_mapping(model, mapping), income_unit)
    table = table.expect(model.encoding.needs, model.config.spec)
    validated = table.validated(model.encoding.needs, model.config.ranges, model.config.spec)
    return measure_drift(model, validated.valid_values()).to_list()


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
    frame, unit = _customer_frame(model, age=age, annual_income=annual_income,
                                  spending_score=spending_score, gender=gender,
                                  values=values)
    result = score_frame(model, frame, income_unit=unit).iloc[0]
    if result["row_status"] != "ok":
        raise CustsegError(f"cannot place this customer: {result['row_issues']}.")
    out = {
        "segment_id": int(result["segment_id"]),
        "segment_name": str(result["segment_name"]),
        "confidence": float(result["confidence"]),
        "atypical": bool(result["atypical"]),
    }
    if model.rfm is not None:  # an RFM model's scores and cell ("545"); none (null) for
        # a customer with returns only, set apart before any score
        out.update({k: None if pd.isna(result[k]) else
                    (int(result[k]) if k != "rfm_cell" else str(result[k]))
                    for k in ("r_score", "f_score", "m_score", "rfm_cell")})
    if result["row_issues"]:
        out["notes"] = str(result["row_issues"])
    return out


def _customer_frame(model: SegmentationModel, *, age: float | None,
                    annual_income: float | None, spending_score: float | None,
                    gender: str | None, values: Mapping[str, Any] | None,
                    ) -> tuple[pd.DataFrame, str]:
    """One customer as a frame of canonical fields and source columns, and the unit its
    income is in; refused, naming them, when a value the model needs is not given or one
    is given twice.

    An income by the field's name (the ``annual_income`` keyword, or ``annual_income``
    among ``values``) is in k$, the field's unit; one by a header is as the fitted file
    wrote it: in the unit the header names ("Annual Income ($)"), else in the unit the
    model read that file's incomes in."""
    row: dict[str, Any] = {"age": age, "annual_income": annual_income,
                           "spending_score": spending_score}
    if gender is not None:
        row[GENDER] = gender
    spec = model.config.spec
    unit = "k$"
    for name, value in (values or {}).items():
        kind, target = _input_column(model, name)
        key = target if kind == "field" else source_key(target)
        if key in row and row[key] is not None:
            raise CustsegError(f"{target} is given twice; give it once.")
        row[key] = value
        if target == INCOME and kind == "field" and name != INCOME:
            named = match_headers((str(name),))
            unit = (named.income_unit if named.income_unit_source == "header"
                    else spec.income_unit or unit)
    missing = [f for f in model.encoding.needs if f not in spec.names and row.get(f) is None]
    blank = _blank_for_returns_only(spec, row)
    row.update({source_key(c): None for c in blank if row.get(source_key(c)) is None})
    missing += [c for c in spec.source_columns() if row.get(source_key(c)) is None
                and c not in blank]
    if missing:
        raise CustsegError(
            f"missing {', '.join(missing)}, which this model needs; give a value for each."
        )
    return pd.DataFrame([row], dtype=object), unit


def _blank_for_returns_only(spec, row: Mapping[str, Any]) -> set[str]:
    """The input columns a customer with returns only leaves blank (recency, tenure…),
    when ``row`` gives a frequency of 0 to a model with the rule; else none."""
    rule = spec.returns_only
    frequency = spec.get(rule.frequency) if rule is not None else None
    if frequency is None:
        return set()
    try:
        zero = float(str(row.get(source_key(frequency.column or frequency.name))).strip()) == 0
    except ValueError:
        return set()
    return {spec.get(n).column or n for n in rule.absent if spec.get(n) is not None} \
        if zero else set()


def customer_features(
    model: SegmentationModel,
    *,
    gender: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, float | None]:
    """One customer's features in their own units, as :func:`predict_one` reads its
    ``values`` (derived features computed): what the Predict page's gauges show. A
    value that is not valid is None."""
    from custseg.table.validate import validate

    frame, unit = _customer_frame(model, age=None, annual_income=None, spending_score=None,
                                  gender=gender, values=values)
    spec = model.config.spec
    checked = validate(frame, required=model.encoding.needs, ranges=model.config.ranges,
                       spec=spec, as_of=spec.fit_date, income_unit=unit)
    out: dict[str, float | None] = {}
    for name in model.config.features:
        value = checked.values[name].iloc[0] if name in checked.values.columns else None
        out[name] = float(value) if value is not None and pd.notna(value) else None
    return out


def predict_typicality(
    model: SegmentationModel,
    *,
    gender: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> Typicality | None:
    """How typical one customer is (its distance to the nearest known customers against
    theirs to each other; see :mod:`custseg.model.typicality`), read as
    :func:`predict_one` reads ``values``; None for a customer placed by a rule (returns
    only), not by its neighbours. Raises :class:`CustsegError` for an invalid value."""
    from custseg.table.validate import validate

    frame, unit = _customer_frame(model, age=None, annual_income=None, spending_score=None,
                                  gender=gender, values=values)
    spec = model.config.spec
    checked = validate(frame, required=model.encoding.needs, ranges=model.config.ranges,
                       spec=spec, as_of=spec.fit_date, income_unit=unit)
    if checked.apart is not None and checked.apart[0]:
        return None
    if not checked.valid[0]:
        raise CustsegError(f"cannot place this customer: {checked.issues[0]}.")
    return typicality(model, checked.valid_values())


@dataclass(frozen=True)
class PredictInput:
    """One input of the Predict form.

    ``name`` is what :func:`predict_one` takes in ``values`` (``gender`` for the gender);
    ``kind`` is ``"numeric"``, ``"date"`` (text in the column's own format, ``hint``
    an example) or ``"categorical"`` (one of ``choices``); ``low`` and ``high`` bound
    what is valid where a bound is known; ``seen`` is the lowest and highest value among
    the fitted customers, for a feature.
    """

    name: str
    label: str
    kind: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    seen: tuple[float, float] | None = None
    choices: tuple[str, ...] = ()
    hint: str = ""


def predict_inputs(model: SegmentationModel) -> list[PredictInput]:
    """The inputs a customer needs for ``model``, from its features and their kinds: the
    gender when the model uses it, each well-known field, then each input column its
    other features read (a derived feature's columns, not the feature itself)."""
    import datetime

    from custseg.table.fields import LABELS, NUMERIC_FIELDS, UNITS
    from custseg.table.spec import date_format_from_text, with_unit

    spec, base = model.config.spec, model.base
    out: list[PredictInput] = []
    if GENDER in model.encoding.needs:
        out.append(PredictInput(GENDER, LABELS[GENDER], "categorical",
                                choices=tuple(model.encoding.gender_categories)))
    for name in input_names(model):
        feature = spec.get(name)
        seen = ((base.mins[name], base.maxs[name])
                if name in base.mins and name in model.config.features else None)
        if name in NUMERIC_FIELDS and feature is None:  # a well-known field
            low, high = model.config.ranges.of(name)
            out.append(PredictInput(name, f"{LABELS[name]} ({UNITS[name]})", "numeric",
                                    UNITS[name], low, high, seen, hint=_seen_text(seen)))
            continue
        if feature is not None and getattr(feature, "kind", "numeric") == "categorical":
            out.append(PredictInput(name, name, "categorical",
                                    choices=tuple(getattr(feature, "categories", ()))))
            continue
        fmt = spec.date_formats.get(name)
        if fmt is not None and date_format_from_text(fmt).kind != "year":
            pattern = date_format_from_text(fmt).pattern
            example = (spec.fit_date or datetime.date.today()).strftime(pattern)
            out.append(PredictInput(name, name, "date", hint=example))
            continue
        unit = feature.unit if feature is not None else ""
        low = high = None
        if feature is not None:
            low, high = feature.range or (feature.min_value, None)
        label = with_unit(name, spec) if feature is not None else name
        if fmt is not None:
            label = f"{name} (year)"
        out.append(PredictInput(name, label, "numeric", unit, low, high, seen,
                                hint=_seen_text(seen)))
    return out


def _seen_text(seen: tuple[float, float] | None) -> str:
    from custseg.table.fields import fmt_number

    if seen is None:
        return ""
    return f"{fmt_number(round(seen[0], 2))} to {fmt_number(round(seen[1], 2))}"


def typical_inputs(model: SegmentationModel, data: TableLike) -> dict[str, Any]:
    """Predict-form values to start from: the inputs of the valid customer of ``data``
    nearest the middle of the base (the median of each scaled feature), so that every
    input, dates and the columns derivations read included, holds a real customer's
    value. Numbers as numbers (a well-known field in its own unit), other cells as text."""
    from custseg.table.parse import OK, parse_numbers

    table = _table(data, None, None)
    cfg = model.config
    validated = table.validated(model.encoding.needs, cfg.ranges, cfg.spec)
    values = validated.valid_values()
    if len(values) == 0:
        return {}
    X = model.encoding.transform(values)
    nearest = int(np.argmin(((X - np.median(X, axis=0)) ** 2).sum(axis=1)))
    row = int(np.flatnonzero(validated.valid)[nearest])
    match = table.match.expect(model.encoding.needs, cfg.spec)
    out: dict[str, Any] = {}
    for spec_input in predict_inputs(model):
        name = spec_input.name
        if name in values.columns and spec_input.kind == "numeric":
            out[name] = float(values[name].iloc[nearest])
            continue
        position = match.fields.get(name, match.sources.get(name))
        if position is None:
            continue
        cell = table.data.column(position)[row].as_py()
        if spec_input.kind == "numeric":
            parsed = parse_numbers(pd.Series([cell], dtype=object), decimal=table.decimal)
            out[name] = float(parsed.values[0]) if parsed.status[0] == OK else None
        else:
            out[name] = None if cell is None else str(cell)
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
    named = [f for f in match_headers((str(name),)).fields if f in names]
    if not hits and len(named) == 1:  # a well-known field's header, "Annual Income (k$)"
        return "field", named[0]
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
    table = _table(data, model_mapping(model, mapping), income_unit)
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
    # the features fit would take with the same options (inspect's, on a table without
    # the Mall fields), so that its n_rows are the rows fit uses
    features, derive, note = _auto_features(table, features, tuple(derive), date_formats)
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
    found = suggest_params(X, config.algorithm, config.params, feature_names=config.features,
                           fitted_rows=fitted, seed=random_state,
                           blocks=encoding.blocks if spec.mixed else ())
    return replace(found, warnings=[note, *found.warnings]) if note else found


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
    from custseg.segments.categories import category_profiles

    values = labels = categories = None
    notes: list[str] = []
    if data is not None:
        table = _table(data, None, None)
        validated = table.validated(model.encoding.needs, model.config.ranges,
                                    model.config.spec)
        values = validated.valid_values()
        if len(values) == 0:
            raise CustsegError("no valid customer in the data to place in the segments.")
        labels = model.assign(values).labels
        profile_by = model.config.spec.profile_by
        cells = profile_cells(table, profile_by)
        if profile_by:  # the data's customers, by the columns the fit profiled by
            kept = cells.loc[validated.valid].reset_index(drop=True)
            categories = category_profiles(kept, labels)
            why = {c: "not in the data" for c in profile_by if c not in cells.columns}
            why.update({c: profilable(kept[c]) or "beyond the bounds"
                        for c in categories.left_out})
            if why:
                notes.append("Not profiled by, in this data: " + "; ".join(
                    f"{shown(c, 60)} ({why[c]})" for c in profile_by if c in why) + ".")
    return build_report(model, values=values, labels=labels, generated=generated,
                        source=source, categories=categories, notes=notes)


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
    if INCOME in match.fields and match.income_unit_source in ("given", "values"):
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
    from custseg.segments.categories import MAX_COLUMNS

    # what fit would take: headers a model file holds, values within the bounds
    take = [c for c in inspection.profile_by if _header_problem(c) is None
            and profilable(_column_cells(table, c)) is None][:MAX_COLUMNS]
    return replace(inspection, profile_by=tuple(take), warnings=tuple(_table_warnings(table)))


def _table_warnings(table: CustomerTable) -> list[str]:
    """What a reader of the inspection should know that the columns do not say."""
    out = []
    match = table.match
    if INCOME in match.fields:
        column = table.data.column(match.fields[INCOME]).to_pandas()
        header = match.source(INCOME)
        message = other_currency_message(column, header)
        if message:
            out.append(f"fitting will refuse this table as it is: {message}")
        note = dollar_income_note(header, match.income_unit_source)
        if note:
            out.append(note)
    if table.structural:
        out.append(
            f"{len(table.structural):,} of {table.n_rows:,} rows are not single customers "
            "(summary rows such as 'Total', or rows with more or fewer fields than the "
            "header): they are left out here, as fitting leaves them out"
        )
    return out


def rfm(
    data: str | os.PathLike[str] | bytes,
    output: str | os.PathLike[str] | None = None,
    *,
    name: str | None = None,
    customer: str | None = None,
    date: str | None = None,
    invoice: str | None = None,
    amount: str | None = None,
    quantity: str | None = None,
    price: str | None = None,
    as_of: Any = None,
    date_format: str | None = None,
    limits: ReadLimits | None = None,
    force: bool = False,
    memory_limit: str = "350MB",
    engine: str = "local",
    scheduler: str | None = None,
) -> CustomerLog:
    """A transaction log to one row per customer (recency, frequency, monetary, tenure…),
    written to ``output`` (CSV or Parquet, atomically) when given; ``memory_limit`` is the
    aggregation's (DuckDB's), beyond which it spills to a temporary folder.

    ``data`` may be a folder or a glob of the log's files (the same header in each): the
    result is the files concatenated's. ``engine="dask"`` aggregates them on Dask, at
    ``scheduler`` (default: a local cluster), with the local engine's result (see
    :mod:`custseg.io.rfm_dask`).

    The log's columns are found by their headers; ``customer``, ``date``, ``invoice``,
    ``amount``, ``quantity`` and ``price`` name them (headers as written) where they are
    not. See :func:`custseg.io.rfm.aggregate_log` and the README's "From transactions".
    """
    from custseg.io.rfm import rfm_file

    return rfm_file(data, output, name=name,
                    columns=given_columns(customer, date, invoice, amount, quantity, price),
                    as_of=as_of, date_format=date_format, limits=limits, force=force,
                    memory_limit=memory_limit, engine=engine, scheduler=scheduler)


@dataclass(frozen=True)
class LogFit:
    """A model fitted on a transaction log's customers, and the log's aggregation
    (:attr:`log`: its customer table, lines read, used and excluded, columns taken)."""

    model: SegmentationModel
    log: CustomerLog


#: The transform ``fit_transactions`` applies by default to recency, frequency and
#: monetary: the signed log (net monetary is negative for customers who returned more
#: than they bought).
LOG_TRANSFORM = "signed_log1p"


def fit_transactions(
    data: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    customer: str | None = None,
    date: str | None = None,
    invoice: str | None = None,
    amount: str | None = None,
    quantity: str | None = None,
    price: str | None = None,
    as_of: Any = None,
    date_format: str | None = None,
    limits: ReadLimits | None = None,
    memory_limit: str = "350MB",
    features: Sequence[str] | str | None = None,
    transforms: Mapping[str, str] | None = None,
    **options: Any,
) -> LogFit:
    """Aggregate a transaction log to its customers (as :func:`rfm`, in memory) and fit
    a segmentation of them (as :func:`fit`; ``options`` are its other arguments).

    By default the features are recency_days, frequency and monetary, each under the
    signed log (``transforms`` to choose others), so K-Means names the segments in RFM
    vocabulary; the customers with returns only are the segment "Returns only" (-2). The
    model keeps the log's columns and date format: scoring a new log with it aggregates
    it the same way (:func:`score_transactions`).
    """
    from custseg.io.logs import customer_table, log_spec
    from custseg.io.rfm import aggregate_log
    from custseg.table.spec import split_features
    from custseg.table.transactions import RFM_FEATURES

    columns = given_columns(customer, date, invoice, amount, quantity, price)
    log = aggregate_log(data, name=name, columns=columns, as_of=as_of,
                        date_format=date_format, limits=limits, memory_limit=memory_limit)
    if log.table.num_rows == 0:
        raise CustsegError("no line of the log has a customer to segment (every line was "
                           "excluded; see the reasons with custseg rfm).")
    names = (split_features(features) if isinstance(features, str) else
             list(features) if features is not None else list(RFM_FEATURES))
    chosen = {f: LOG_TRANSFORM for f in RFM_FEATURES if f in names}
    chosen.update(transforms or {})
    table = customer_table(log, name or (os.fspath(data) if not isinstance(data, bytes)
                                         else "log"))
    model = fit(table, features=names, transforms=chosen, **options)
    return LogFit(replace(model, log=log_spec(log, date_format)), log)


def score_transactions(
    model: SegmentationModel,
    data: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    as_of: Any = None,
    limits: ReadLimits | None = None,
    memory_limit: str = "350MB",
) -> tuple[pd.DataFrame, CustomerLog]:
    """A new transaction log's customers scored: one row per customer, the customer
    table's columns (as :func:`rfm` writes them) then the scored contract columns, and
    the aggregation. The log is aggregated as ``model``'s fit aggregated its own (the
    same columns and date format; see :func:`fit_transactions`)."""
    from custseg.io.logs import aggregate_for, customer_table

    log = aggregate_for(model, data, name=name, as_of=as_of, limits=limits,
                        memory_limit=memory_limit)
    return score_table(model, customer_table(log, name or "log")), log


def log_columns(data: str | os.PathLike[str] | bytes, *, name: str | None = None,
                limits: ReadLimits | None = None):
    """The columns of ``data`` when it is a transaction log, else None; only the header
    is read (see :func:`custseg.table.transactions.log_columns_in`)."""
    from custseg.io.source import TableSource
    from custseg.table.headers import fields_named
    from custseg.table.transactions import log_columns_in

    # the header alone: a log is never refused over the customer fields it does not use
    source = TableSource(data, name=name, limits=limits, check_income=False,
                         customer_fields=False)
    try:
        return log_columns_in(source.header, tuple(fields_named(source.header)))
    finally:
        source.close()


def log_customers(result: CustomerLog, name: str = "customers") -> CustomerTable:
    """The customer table of an aggregated log (:func:`rfm`) as a
    :class:`~custseg.io.source.CustomerTable`, to fit, inspect or score like any other:
    read as the file ``custseg rfm`` writes would be, its columns carry the roles recency,
    frequency, monetary and tenure by their headers, and its customers with returns only
    are set apart ("Returns only") when fitted."""
    from custseg.io.logs import customer_table

    return customer_table(result, name)
