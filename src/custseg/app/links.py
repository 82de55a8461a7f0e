"""The dashboard's settings in the URL, and what a URL cannot carry kept on the server.

Every control of the sidebar that shapes the segmentation (the data source, the demo's
size and seed, the features and their roles, units and transforms, the algorithm and
its parameters, the advanced settings, the reading options) is written to the URL's
query string after each run (:func:`write`), and read back once, when a session starts
(:func:`restore`): a browser refresh or a shared link shows the same segmentation.
Reading a link is strict: a key it does not know is ignored; a value a control cannot
take is refused with a message naming the key, the value and what is allowed, and the
control keeps its default, said so on the page.

What a URL cannot hold is kept in this process, bounded:

- the analyst's names and strategies (:func:`keep_edits`), keyed by the link's
  workspace (``ws``, a random id the URL carries) and by the model they were made on
  (data, settings, rulebook), the :data:`MAX_EDITS` most recent;
- models loaded from a file (:func:`keep_model`), keyed by the file's SHA-256 (the
  URL's ``model``), the :data:`MAX_MODELS` most recent.

An uploaded data file is not kept: after a refresh the page asks for it again. Both
stores live as long as the server process; a link that names what it no longer holds
says so on the page.
"""

from __future__ import annotations

import copy
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from custseg.app import state
from custseg.cluster.algorithms import ALGORITHMS, ParamSpec, get_algorithm
from custseg.errors import CustsegError, shown
from custseg.table.roles import ROLES, UNITS
from custseg.table.sample import DEMO_MAX_ROWS
from custseg.table.spec import TRANSFORMS

#: Most names-and-strategies sets kept in the process; most loaded models kept.
MAX_EDITS = 512
MAX_MODELS = 4
#: Longest text a link may set (derivations, date formats), names it may list.
MAX_TEXT = 4_000
MAX_NAME = 200
MAX_ITEMS = 200

WORKSPACE, MODEL = "ws", "model"
_WORKSPACE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
#: Session keys: the link was read; what reading it said; the session's workspace.
READ = "_link_read"
MESSAGES = "_link_messages"
WORKSPACE_KEY = "_workspace"
#: Session key: the features a link asked for (said when the table has not got them).
ASKED_FEATURES = "_link_features"
#: Session key: the categorical columns a link asked for (said when they cannot be).
ASKED_CATEGORICAL = "_link_categorical"
#: Session key: the chosen features' roles, units and transforms that differ from their
#: defaults (``{"roles", "units", "transforms"}``, set by the sidebar): the URL's share.
OVERRIDES = "_feature_overrides"

SOURCES = {"demo": state.DEMO, "upload": state.UPLOAD, "file": state.STARTUP}
INCOME_UNITS = {"file": "from the file", "k$": "k$ (thousands of dollars)",
                "$": "$ (dollars)"}
TRANSFORM_CHOICES = ("auto", *TRANSFORMS)


class Refused(ValueError):
    """A link's value a control cannot take (the message says why)."""


# ----------------------------------------------------------------- value parsers


def _one(values: list[str]) -> str:
    if len(values) != 1:
        raise Refused(f"give it once, not {len(values)} times")
    return values[0]


def _int(low: int, high: int) -> Callable[[list[str]], int]:
    def parse(values: list[str]) -> int:
        text = _one(values).strip()
        if not re.fullmatch(r"[+-]?\d{1,12}", text):
            raise Refused(f"not a whole number; give one from {low:,} to {high:,}")
        number = int(text)
        if not low <= number <= high:
            raise Refused(f"out of range; give a whole number from {low:,} to {high:,}")
        return number
    return parse


def _bool(values: list[str]) -> bool:
    text = _one(values).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise Refused("give true or false")


def _choice(options: Mapping[str, Any] | tuple) -> Callable[[list[str]], Any]:
    def parse(values: list[str]) -> Any:
        text = _one(values)
        if text not in options:
            raise Refused("choose one of " + ", ".join(map(str, options)))
        return options[text] if isinstance(options, Mapping) else text
    return parse


def _text(values: list[str]) -> str:
    text = _one(values)
    if len(text) > MAX_TEXT:
        raise Refused(f"longer than {MAX_TEXT:,} characters")
    return text


def _names(values: list[str]) -> list[str]:
    if len(values) > MAX_ITEMS:
        raise Refused(f"more than {MAX_ITEMS} names")
    if any(len(v) > MAX_NAME or not v.strip() for v in values):
        raise Refused(f"a name is empty or longer than {MAX_NAME} characters")
    return list(dict.fromkeys(values))


def _param(p: ParamSpec) -> Callable[[list[str]], Any]:
    def parse(values: list[str]) -> Any:
        try:
            return p.coerce(_one(values))
        except CustsegError as exc:  # its words alone: "(params)" names no control
            raise Refused(exc.message) from None
    return parse


def _parsers() -> dict[str, Callable[[list[str]], Any]]:
    """URL key -> how its values become the control's value (the widget key is the same,
    but for ``source``, ``data_source``'s)."""
    parsers: dict[str, Callable[[list[str]], Any]] = {
        "demo_n": _int(100, DEMO_MAX_ROWS), "demo_seed": _int(0, 10_000),
        "features": _names, "categorical": _names, "derivations": _text,
        "use_gender": _bool, "algorithm": _choice(tuple(ALGORITHMS)),
        "n_neighbors": _int(1, 25), "seed": _int(0, 1_000_000),
        "income_unit": _choice(INCOME_UNITS), "date_formats": _text,
        "log_as_table": _bool,
    }
    for name, spec in ALGORITHMS.items():
        parsers[f"sample_{name}"] = _int(0, 5_000_000)
        for p in spec.params:
            parsers[f"param_{name}_{p.name}"] = _param(p)
    return parsers


def _feature_parser(key: str) -> Callable[[list[str]], Any] | None:
    """Parsers of the per-feature keys (``role|NAME``, ``unit|NAME``, ``transform|NAME``)."""
    kind, _, name = key.partition("|")
    if not name or len(name) > MAX_NAME:
        return None
    return {"role": _choice(tuple(ROLES)), "unit": _choice(("", *UNITS)),
            "transform": _choice(TRANSFORM_CHOICES)}.get(kind)


# ----------------------------------------------------------------------- reading


def _optional_params() -> set[str]:
    """The URL keys of the parameters that may be "automatic" (a checkbox beside them,
    on by default when their default is automatic): a value in a link turns it off."""
    return {f"param_{name}_{p.name}" for name in ALGORITHMS
            for p in get_algorithm(name).params if p.optional}


def restore(params: Mapping[str, list[str]]) -> list[str]:
    """Set the controls from a link's query string (``{key: [values]}``), before any is
    drawn; what is refused, and why, as lines for the page."""
    said: list[str] = []
    parsers = _parsers()

    def refuse(key: str, values: list[str], why: str, default: str) -> None:
        value = ", ".join(shown(v, 40) for v in values[:3])
        said.append(f"The link's {key}={value} was refused ({why}); {default}.")

    for key, values in params.items():
        if key == "source":
            try:
                choice = _choice(SOURCES)(values)
                if choice == state.STARTUP and not state.startup_file():
                    raise Refused("this app was started with no file")
            except Refused as exc:
                refuse(key, values, str(exc), "showing the default data source")
                continue
            st.session_state["data_source"] = choice
            continue
        if key in (WORKSPACE, MODEL):
            continue  # read by workspace() and loaded_model()
        if key.endswith("_auto") and key[:-5] in parsers:  # a parameter set to automatic
            try:
                st.session_state[key] = _bool(values)
            except Refused as exc:
                refuse(key, values, str(exc), "keeping its default")
            continue
        parse = parsers.get(key) or _feature_parser(key)
        if parse is None:
            continue  # a key no control has: ignored
        try:
            value = parse(values)
        except Refused as exc:
            refuse(key, values, str(exc), "keeping its default")
            continue
        if key.startswith("param_") and value is None:  # "auto"
            st.session_state[key + "_auto"] = True
            continue
        st.session_state[key] = value
        if key in _optional_params() and key + "_auto" not in params:
            st.session_state[key + "_auto"] = False  # a value given: not "automatic"
        if key == "features":
            st.session_state[ASKED_FEATURES] = list(value)
        if key == "categorical":
            st.session_state[ASKED_CATEGORICAL] = list(value)
    return said


def workspace(params: Mapping[str, list[str]]) -> tuple[str, str | None]:
    """The link's workspace id, or a new one; and a line when the link's was refused."""
    given = params.get(WORKSPACE)
    if given and len(given) == 1 and _WORKSPACE.match(given[0]):
        return given[0], None
    fresh = secrets.token_urlsafe(9)
    if given is None:
        return fresh, None
    return fresh, (f"The link's {WORKSPACE}={shown(given[0], 40)} was refused (not a "
                   "workspace id); names and strategies edited under it are not restored.")


def loaded_model(params: Mapping[str, list[str]]) -> tuple[state.LoadedModel | None,
                                                            str | None]:
    """The model file the link names, when this server still holds it; else a line
    saying why it is not used."""
    given = params.get(MODEL)
    if not given:
        return None, None
    if len(given) != 1 or not _DIGEST.match(given[0]):
        return None, (f"The link's {MODEL}={shown(given[0], 40)} was refused (not a model "
                      "file's SHA-256); the segments are fitted from the controls.")
    kept = _kept_model(given[0])
    if kept is None:
        return None, ("The link named a model file loaded earlier, which this server no "
                      "longer holds (a model file cannot travel in a link). Load it again "
                      "on the Model Lab (Save / load); until then the segments are fitted "
                      "from the controls.")
    return kept, None


def query() -> dict[str, list[str]]:
    """The page's query string as ``{key: [values]}``."""
    qp = st.query_params
    return {key: list(qp.get_all(key)) for key in qp}


# ----------------------------------------------------------------------- writing


def current(loaded: state.LoadedModel | None) -> dict[str, list[str]]:
    """The controls that shape the current segmentation, as a query string."""
    ss = st.session_state
    out: dict[str, list[str]] = {}
    source = ss.get("data_source", state.DEMO)
    out["source"] = [next((k for k, v in SOURCES.items() if v == source), "demo")]
    if source == state.DEMO:
        out["demo_n"] = [str(int(ss.get("demo_n", 2_000)))]
        out["demo_seed"] = [str(int(ss.get("demo_seed", 0)))]
    else:
        for key in ("income_unit",):
            label = ss.get(key)
            code = next((k for k, v in INCOME_UNITS.items() if v == label), None)
            if code and code != "file":
                out[key] = [code]
        if ss.get("date_formats"):
            out["date_formats"] = [str(ss["date_formats"])]
        if ss.get("log_as_table"):
            out["log_as_table"] = ["true"]
    if loaded is not None:
        out[MODEL] = [loaded.digest]
    else:
        features = [str(f) for f in ss.get("features") or []]
        if features:
            out["features"] = features
        if ss.get("categorical"):
            out["categorical"] = [str(c) for c in ss["categorical"]]
        if ss.get("derivations"):
            out["derivations"] = [str(ss["derivations"])]
        overrides = ss.get(OVERRIDES) or {}
        for kind, group in (("role", "roles"), ("unit", "units"), ("transform", "transforms")):
            for name, value in sorted((overrides.get(group) or {}).items()):
                out[f"{kind}|{name}"] = [str(value)]
        out["use_gender"] = ["true" if ss.get("use_gender") else "false"]
        algorithm = ss.get("algorithm", "kmeans")
        out["algorithm"] = [str(algorithm)]
        if algorithm in ALGORITHMS:
            for p in get_algorithm(algorithm).params:
                key = f"param_{algorithm}_{p.name}"
                if p.optional and ss.get(key + "_auto", p.default is None):
                    out[key + "_auto"] = ["true"]
                    continue
                if key in ss:
                    out[key] = [str(ss[key])]
            if ss.get(f"sample_{algorithm}"):
                out[f"sample_{algorithm}"] = [str(int(ss[f"sample_{algorithm}"]))]
        out["n_neighbors"] = [str(int(ss.get("n_neighbors", 3)))]
        out["seed"] = [str(int(ss.get("seed", 0)))]
    out[WORKSPACE] = [ss.get(WORKSPACE_KEY) or ""]
    return out


def write(loaded: state.LoadedModel | None) -> None:
    """Put the current settings in the URL (only when they changed)."""
    wanted = current(loaded)
    if query() != wanted:
        st.query_params.from_dict(wanted)


# ------------------------------------------------------------- server-side stores

_lock = threading.Lock()
_edits: OrderedDict[tuple[str, state.ModelKey], dict] = OrderedDict()
_models: OrderedDict[str, state.LoadedModel] = OrderedDict()


def keep_edits(ws: str, key: state.ModelKey, edits: Mapping[int, Mapping[str, str]]) -> None:
    """Keep the names and strategies edited on the model ``key`` in workspace ``ws``."""
    with _lock:
        _edits[(ws, key)] = copy.deepcopy(dict(edits))
        _edits.move_to_end((ws, key))
        while len(_edits) > MAX_EDITS:
            _edits.popitem(last=False)


def kept_edits(ws: str, key: state.ModelKey) -> dict | None:
    with _lock:
        found = _edits.get((ws, key))
        return None if found is None else copy.deepcopy(found)


def keep_model(loaded: state.LoadedModel) -> None:
    with _lock:
        _models[loaded.digest] = loaded
        _models.move_to_end(loaded.digest)
        while len(_models) > MAX_MODELS:
            _models.popitem(last=False)


def _kept_model(digest: str) -> state.LoadedModel | None:
    with _lock:
        return _models.get(digest)


def forget_all() -> None:
    """Empty both stores (tests)."""
    with _lock:
        _edits.clear()
        _models.clear()
