"""The sidebar's segmentation controls: features (derived ones, roles, units,
transforms), categorical columns, the algorithm and its parameters.

:func:`controls` reads them into a :class:`ModelConfig` (None when no feature is
chosen, recorded for the main area); :func:`restore_controls` sets them from a loaded
model, so that "Fit from the controls instead" starts from it.
"""

from __future__ import annotations

import json

import streamlit as st

from custseg.app import cached, links, state
from custseg.app.ui import plain, show_error
from custseg.cluster.algorithms import ALGORITHMS, AlgorithmSpec, ParamSpec, get_algorithm
from custseg.errors import CustsegError
from custseg.model.segmentation import ModelConfig, SegmentationModel
from custseg.table.choices import (
    FeatureChoice,
    chosen_derivations,
    default_features,
    derivation_lines,
    derivation_name,
    feature_choices,
    formats_read,
)
from custseg.table.derive import parse_derivation
from custseg.table.fields import GENDER
from custseg.table.fields import UNITS as FIELD_UNITS
from custseg.table.roles import FIELD_ROLES, ROLES, UNITS, detect_role
from custseg.table.spec import TRANSFORMS, label_of

#: Session key: the table whose defaults the feature controls were last set from.
FEATURES_FOR = "_features_for"
TRANSFORM_CHOICES = ("auto", *TRANSFORMS)


def _feature_label(choices: dict[str, FeatureChoice], derived: set[str]):
    def label(name: str) -> str:
        choice = choices.get(name)
        if name in derived:
            return f"{label_of(name)} (derived)"
        unit = choice.unit if choice is not None else ""
        return f"{label_of(name)} ({unit})" if unit else label_of(name)
    return label


def _start_from(data: state.KeyedTable, match, inspection) -> None:
    """A new table's defaults for the feature controls (as ``custseg fit`` would choose),
    once per table: what the analyst changes afterwards stays."""
    if st.session_state.get(FEATURES_FOR) == data.key:
        return
    features, derivations = default_features(match, inspection)
    kept = st.session_state.get(FEATURES_FOR) is None and st.session_state.get("features")
    st.session_state[FEATURES_FOR] = data.key
    if kept:  # the session's own choice (set before the first table, as a test may)
        return
    st.session_state["features"] = list(features)
    st.session_state["derivations"] = "\n".join(derivations)


def controls(data: state.KeyedTable, inspection, formats: dict[str, str]) -> ModelConfig | None:
    table = data.table
    st.subheader("Segmentation", divider="gray")
    choices = {c.name: c for c in feature_choices(table.match, inspection)}
    _start_from(data, table.match, inspection)
    lines = derivation_lines(st.session_state.get("derivations") or "")
    derived = {derivation_name(line) for line in lines}
    options = list(choices) + [n for n in dict.fromkeys(map(derivation_name, lines))
                               if n and n not in choices]
    current = st.session_state.get("features") or []
    asked = st.session_state.pop(links.ASKED_FEATURES, None)  # by a link, once
    dropped = [f for f in current if f not in options]
    if dropped:
        st.session_state["features"] = [f for f in current if f in options]
    if asked and set(dropped) & set(asked):
        kept = st.session_state["features"]
        if not kept:
            st.session_state["features"] = list(default_features(table.match, inspection)[0])
        st.warning(plain(f"The link's features {', '.join(dropped)} are not columns of this "
                         "table: left out" + ("." if kept else "; using the table's default "
                                              "features.")), icon=":material/link_off:")
    features = st.multiselect(
        "Features", options, format_func=_feature_label(choices, derived),
        key="features", persist_state="session",
        placeholder="Choose the columns to cluster on",
        help="Numeric columns of the table and the derived features defined under "
        "Advanced. Standardised before clustering, so units do not weigh; skewed ones are "
        "logged first (auto).",
    )
    settings = _feature_settings(features, choices, derived, inspection, lines)
    st.session_state[links.OVERRIDES] = settings  # what the URL carries of them
    if not features and not options:
        st.warning(plain(f"{table.name} has no numeric column to segment on (Reading the "
                         "file, above, shows how each column was read). Upload a table "
                         "with at least one, or a transaction log."), icon=":material/warning:")
        st.session_state[state.FAILED] = ("no_features", table.name)
        return None
    if not features:
        st.warning("Choose at least one feature to cluster on.", icon=":material/warning:")
        st.session_state[state.FAILED] = ("features", table.name)
        return None
    categorical = _categorical_picker(table, inspection, features)
    has_gender = GENDER in table.match.fields
    use_gender = st.toggle(
        "Use gender", key="use_gender", disabled=not has_gender,
        help="Off by default: a binary column tends to split every segment by gender. "
        "When on, gender is one-hot encoded.",
    ) and has_gender
    algorithm = st.selectbox(
        "Algorithm", list(ALGORITHMS), key="algorithm",
        format_func=lambda name: ALGORITHMS[name].label,
    )
    spec = get_algorithm(algorithm)
    st.caption(spec.summary)
    params = {p.name: _param_widget(spec, p) for p in spec.params}
    with st.expander("Advanced", icon=":material/tune:"):
        n_neighbors = st.number_input("Neighbours in the assigner's vote", min_value=1,
                                      max_value=25, step=1, key="n_neighbors")
        seed = st.number_input("Random seed", min_value=0, max_value=1_000_000, step=1, key="seed")
        cap = spec.fit_sample
        sample = st.number_input(
            "Rows the clusterer sees (0 = the algorithm's default)", min_value=0,
            max_value=5_000_000, step=1_000, value=0, key=f"sample_{algorithm}",
            persist_state="session",
            help=f"Default for {spec.label}: " + (f"{cap:,} rows" if cap else "every row") +
            ". The assigner extends the segments to everyone else.",
        )
    derive = chosen_derivations(lines, features)
    asked = {
        "features": list(features), "derive": list(derive), **settings,
        "categorical": categorical or None,
        "date_formats": formats_read(derive, formats, table.header),
        "algorithm": algorithm, "params": params, "use_gender": use_gender,
        "n_neighbors": int(n_neighbors), "sample_size": int(sample) if sample else None,
        "random_state": int(seed),
        "stability_resamples": 0,  # measured on demand in the Model Lab, not on every move
    }
    return cached.fit_config(data, json.dumps(asked, sort_keys=True))


def _categorical_picker(table, inspection, features) -> list[str]:
    """The categorical columns to cluster on beside the features: the table's categorical
    and 0/1 columns of at most :data:`MAX_CATEGORIES` values, but the gender column (its
    own switch) and columns already chosen as features."""
    from custseg.table.spec import MAX_CATEGORIES

    gender = table.match.source(GENDER) if GENDER in table.match.fields else None
    options = [c.name for c in inspection.columns
               if c.kind in ("categorical", "flag") and 1 < c.distinct <= MAX_CATEGORIES
               and c.name != gender and c.name not in features]
    current = st.session_state.get("categorical") or []
    asked = st.session_state.pop(links.ASKED_CATEGORICAL, None)  # by a link, once
    dropped = [c for c in current if c not in options]
    if dropped:
        st.session_state["categorical"] = [c for c in current if c in options]
    if asked and set(dropped) & set(asked):  # never silently: a link's choice is refused
        st.warning(plain(f"The link's categorical columns {', '.join(dropped)} are left out: "
                         "the categorical columns are this table's columns of 2 to "
                         f"{MAX_CATEGORIES} categories, except the gender column (its own "
                         "switch) and the features."), icon=":material/link_off:")
    if not options:
        return []
    return list(st.multiselect(
        "Categorical columns", options, key="categorical", persist_state="session",
        placeholder="None: numbers only",
        help="Columns of categories to cluster on too (Geography, Education…): each is "
        "one-hot encoded and weighs as much as one numeric feature. K-Prototypes is made "
        "for numbers and categories together. A category not seen here makes a scored "
        "row invalid.",
    ))


def _feature_settings(features, choices: dict[str, FeatureChoice], derived: set[str],
                      inspection, lines) -> dict[str, dict[str, str]]:
    """Derivations, then each chosen feature's role, unit and transform, under an
    expander: ``{"transforms", "roles", "units"}`` as set (only what differs from the
    default is passed on)."""
    out: dict[str, dict[str, str]] = {"transforms": {}, "roles": {}, "units": {}}
    with st.expander("Derived features, roles, transforms", icon=":material/functions:"):
        st.text_area(
            "Derived features", key="derivations", persist_state="session", height=100,
            placeholder="age = years_since(Year_Birth)\ntotal_spend = sum(`Mnt*`)",
            help="One NAME = EXPR per line: + - * /, sum(...), mean(...) (also over a glob "
            "such as `Mnt*`), log1p(x), years_since(col), days_since(col). A header with "
            "spaces goes in backticks. Then choose NAME among the features.")
        for line in lines:
            try:
                parse_derivation(line)
            except CustsegError as exc:
                show_error(exc)
        if not features:
            return out
        rows = []
        for name in features:
            choice = choices.get(name)
            default_role, default_unit = _default_role(name, choice)
            fixed = name in FIELD_ROLES
            role = default_role if fixed else st.session_state.get(f"role|{name}", default_role)
            unit = default_unit if fixed else st.session_state.get(f"unit|{name}", default_unit)
            transform = st.session_state.get(f"transform|{name}", "auto")
            if role != default_role:
                out["roles"][name] = role
            if unit != default_unit:
                out["units"][name] = unit
            if transform != "auto":
                out["transforms"][name] = transform
            auto = choice.transform if choice is not None else "decided at fit"
            rows.append({"feature": name,
                         "transform": f"auto ({auto})" if transform == "auto" else transform,
                         "role": role, "unit": unit,
                         "source": "derived" if name in derived else (
                             choice.source if choice else "")})
        st.dataframe(rows, hide_index=True, width="stretch",
                     column_config={"feature": st.column_config.TextColumn(width="small")})
        name = st.selectbox("Adjust a feature", features, key="adjust_feature",
                            format_func=label_of)
        choice = choices.get(name)
        default_role, default_unit = _default_role(name, choice)
        fixed = name in FIELD_ROLES
        c1, c2 = st.columns(2)
        c1.selectbox("Role", ROLES, index=ROLES.index(default_role), key=f"role|{name}",
                     persist_state="session", disabled=fixed,
                     help="What the column means, for names and strategies (recency: days "
                     "since the last purchase, low is good). The well-known fields keep theirs.")
        units = ["", *UNITS]
        c2.selectbox("Unit", units, index=units.index(default_unit) if default_unit in units
                     else 0, key=f"unit|{name}", persist_state="session", disabled=fixed,
                     format_func=lambda u: u or "none")
        st.selectbox("Transform", TRANSFORM_CHOICES, key=f"transform|{name}",
                     persist_state="session",
                     format_func=lambda t: ("auto: log1p when skewed (skew > 1), signed for "
                                            "negative values") if t == "auto" else t,
                     help="Applied before scaling; profiles and charts stay in the column's "
                     "own units.")
    return out


def _default_role(name: str, choice: FeatureChoice | None) -> tuple[str, str]:
    if name in FIELD_ROLES:
        return FIELD_ROLES[name], FIELD_UNITS.get(name, "")
    if choice is not None:
        return choice.role, choice.unit
    guess = detect_role(name)  # a derived feature: as fitting names it
    return guess.role, guess.unit or ""


def restore_controls(model: SegmentationModel, table_key: str) -> None:
    """Set the sidebar's controls to a loaded model's features and settings, so that
    "Fit from the controls instead" starts from it."""
    cfg = model.config
    st.session_state[FEATURES_FOR] = table_key
    st.session_state["features"] = list(cfg.features)
    st.session_state["categorical"] = list(cfg.categorical)
    st.session_state["derivations"] = "\n".join(
        f"{f.name} = {f.expr}" for f in cfg.spec.extra if f.source == "derived")
    for feature in cfg.spec.extra:
        st.session_state[f"role|{feature.name}"] = feature.role
        st.session_state[f"unit|{feature.name}"] = feature.unit
    for name in cfg.features:
        st.session_state[f"transform|{name}"] = cfg.transforms.get(name, "auto")
    if cfg.spec.date_formats:
        st.session_state["date_formats"] = "\n".join(
            f"{c}={f}" for c, f in cfg.spec.date_formats.items() if "|" not in f)
    st.session_state["use_gender"] = cfg.use_gender
    st.session_state["n_neighbors"] = cfg.n_neighbors
    st.session_state["seed"] = cfg.random_state
    if cfg.algorithm in ALGORITHMS:
        st.session_state["algorithm"] = cfg.algorithm
        for p in get_algorithm(cfg.algorithm).params:
            value = cfg.params.get(p.name)
            if p.optional:
                st.session_state[_param_key(cfg.algorithm, p.name) + "_auto"] = value is None
            if value is not None:
                st.session_state[_param_key(cfg.algorithm, p.name)] = value


def _param_key(algorithm: str, name: str) -> str:
    """The widget key of an algorithm's parameter (the suggestion sets it)."""
    return f"param_{algorithm}_{name}"


def _param_widget(spec: AlgorithmSpec, p: ParamSpec):
    key = _param_key(spec.name, p.name)
    if p.kind == "choice":
        return st.selectbox(p.label, p.choices, index=p.choices.index(p.default), key=key,
                            help=p.help, persist_state="session")
    if p.optional:
        auto = st.checkbox(f"{p.label}: automatic", value=p.default is None, key=key + "_auto",
                           help=p.help, persist_state="session")
        if auto:
            return None
    start = p.default if p.default is not None else int(p.low)
    if p.kind == "int":
        if p.high - p.low <= 100:
            return st.slider(p.label, int(p.low), int(p.high), int(start), step=int(p.step or 1),
                             key=key, help=p.help, persist_state="session")
        return st.number_input(p.label, int(p.low), int(p.high), int(start), step=int(p.step or 1),
                               key=key, help=p.help, persist_state="session")
    return st.slider(p.label, float(p.low), float(p.high), float(start), step=float(p.step or 0.01),
                     key=key, help=p.help, persist_state="session")


def apply_params(algorithm: str, values: dict) -> None:
    """Set an algorithm's parameter controls to ``values`` (the suggestion's)."""
    for name, value in values.items():
        st.session_state[_param_key(algorithm, name)] = value
        st.session_state.pop(_param_key(algorithm, name) + "_auto", None)
