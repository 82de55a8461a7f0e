"""Forged model files (issue 10, classes 5, 8 and 10): a real saved model, edited, with
its checksum recomputed the way :mod:`custseg.io.model_files` computes it, so that only
the content checks stand between the edit and its use.

Each case is ``(id, forge, words)``: ``forge(data)`` turns a real model file's bytes into
the hostile one, ``words`` is a piece of the refusal message (which names the field).
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import warnings
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np


def rebuild(members: list[tuple[str, bytes]], *, compress: int = zipfile.ZIP_DEFLATED,
            encrypted: tuple[str, ...] = ()) -> bytes:
    """A ZIP of ``members`` in order (names may repeat); ``encrypted`` members carry the
    encryption flag, as a password-protected archive's do."""
    data = _zip(members, compress)
    for name in encrypted:
        data = patch_member(data, name, encrypted=True)
    return data


def _zip(members: list[tuple[str, bytes]], compress: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compress) as zf:
        for name, blob in members:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = compress
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "Duplicate name"
                zf.writestr(info, blob)
    return out.getvalue()


def forge(data: bytes, meta_change: Callable[[dict], Any] | None = None, *,
          meta: bytes | None = None, arrays: bytes | None = None, manifest_change=None,
          extra: list[tuple[str, bytes]] = (), compress: int = zipfile.ZIP_DEFLATED,
          encrypted: tuple[str, ...] = ()) -> bytes:
    """``data`` (a model file) with model.json changed by ``meta_change`` (or replaced
    by ``meta``), arrays.npz replaced by ``arrays``, and a recomputed, valid checksum."""
    src = zipfile.ZipFile(io.BytesIO(data))
    if meta is None:
        meta = src.read("model.json")
        if meta_change is not None:
            obj = json.loads(meta)
            meta_change(obj)
            meta = json.dumps(obj).encode()
    npz = src.read("arrays.npz") if arrays is None else arrays
    manifest = json.loads(src.read("manifest.json"))
    manifest["sha256"] = {"model.json": hashlib.sha256(meta).hexdigest(),
                          "arrays.npz": hashlib.sha256(npz).hexdigest()}
    if manifest_change is not None:
        manifest_change(manifest)
    members = [("manifest.json", json.dumps(manifest).encode()), ("model.json", meta),
               ("arrays.npz", npz), *extra]
    return rebuild(members, compress=compress, encrypted=encrypted)


def arrays_of(data: bytes) -> dict[str, np.ndarray]:
    npz = zipfile.ZipFile(io.BytesIO(data)).read("arrays.npz")
    with np.load(io.BytesIO(npz), allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def npz(members: dict[str, np.ndarray | bytes], compress: int = zipfile.ZIP_DEFLATED) -> bytes:
    """An .npz of ``members`` (arrays, or raw .npy bytes for hand-made headers)."""
    parts = []
    for key, value in members.items():
        if isinstance(value, bytes):
            parts.append((f"{key}.npy", value))
        else:
            buf = io.BytesIO()
            np.save(buf, value, allow_pickle=True)
            parts.append((f"{key}.npy", buf.getvalue()))
    return rebuild(parts, compress=compress)


def npy_header(shape: tuple, descr: str = "<f8", fortran: bool = False, data: bytes = b"") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": fortran, "shape": shape})
    return buf.getvalue() + data


def with_arrays(data: bytes, **changes) -> bytes:
    """``data`` with some of its arrays replaced (the others kept)."""
    arrays = {**arrays_of(data), **changes}
    return forge(data, arrays=npz(arrays))


def set_field(path: list, value) -> Callable[[dict], None]:
    def change(obj: dict) -> None:
        target = obj
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def drop_field(path: list) -> Callable[[dict], None]:
    def change(obj: dict) -> None:
        target = obj
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


def patch_member(data: bytes, member: str, *, method: int | None = None,
                 encrypted: bool = False) -> bytes:
    """``data`` with ``member``'s compression method (deflate64 is 9, which Python cannot
    read) or its encryption flag rewritten, in its local header and the central directory
    (zipfile itself writes neither)."""
    out = bytearray(data)
    name = member.encode()
    # signature: (name offset, name-length offset, flag offset, method offset)
    layout = {b"PK\x03\x04": (30, 26, 6, 8), b"PK\x01\x02": (46, 28, 8, 10)}
    for signature, (name_at, length_at, flag_at, method_at) in layout.items():
        start = 0
        while (at := out.find(signature, start)) >= 0:
            length = struct.unpack_from("<H", out, at + length_at)[0]
            if bytes(out[at + name_at:at + name_at + length]) == name:
                if method is not None:
                    struct.pack_into("<H", out, at + method_at, method)
                if encrypted:
                    flags = struct.unpack_from("<H", out, at + flag_at)[0]
                    struct.pack_into("<H", out, at + flag_at, flags | 0x1)
            start = at + 4
    return bytes(out)


def huge_reference(data: bytes, rows: int = 1_000_000) -> bytes:
    """A small model file whose reference set is ``rows`` identical customers."""
    arrays = arrays_of(data)
    width = arrays["reference_X"].shape[1]
    label = arrays["classes"][:1]
    return forge(data, arrays=npz({
        "reference_X": np.zeros((rows, width)),
        "reference_labels": np.repeat(label, rows),
        "classes": arrays["classes"],
    }))


def _deep(depth: int) -> Callable[[dict], None]:
    nested: Any = 1
    for _ in range(depth):
        nested = [nested]
    return set_field(["warnings"], nested)


#: Class 5: tampered values of the right type that would be used silently.
TAMPERED = [
    ("nan-threshold", lambda d: forge(d, meta=forge_meta(d, "segmenter", "atypical_threshold",
                                                         "NaN")), "NaN"),
    ("inf-scale", lambda d: forge(d, meta=forge_meta(d, "encoding", "scales", "[Infinity, 1, 1]")),
     "Infinity"),
    ("null-threshold", lambda d: forge(d, set_field(["segmenter", "atypical_threshold"], None)),
     "segmenter.atypical_threshold"),
    ("negative-threshold", lambda d: forge(d, set_field(["segmenter", "atypical_threshold"], -1.0)),
     "segmenter.atypical_threshold"),
    ("osc52-name", lambda d: forge(d, set_field(["segments", 0, "name"], "X\x1b]52;c;aGk=\x07")),
     "segments[0].name holds the control character U+001B"),
    ("clear-screen-strategy", lambda d: forge(d, set_field(["segments", 1, "strategy"], "\x1b[2J")),
     "segments[1].strategy holds the control character"),
    ("bidi-name", lambda d: forge(d, set_field(["segments", 0, "name"], "Gold \u202eslasi")),
     "U+202E"),
    ("c1-name", lambda d: forge(d, set_field(["segments", 0, "name"], "csi\x9b2J")), "U+009B"),
    ("newline-fact", lambda d: forge(d, set_field(["segments", 0, "facts"], ["a\nb"])),
     "segments[0].facts[0]"),
    ("long-name", lambda d: forge(d, set_field(["segments", 0, "name"], "N" * 10_000)),
     "is 10,000 characters long"),
    ("blank-name", lambda d: forge(d, set_field(["segments", 0, "name"], "  ")),
     "segments[0].name must not be blank"),
    ("control-in-rulebook", lambda d: forge(d, set_field(["rulebook", "outliers", "name"], "\x07")),
     "rulebook.outliers.name"),
    ("zero-neighbours", lambda d: forge(d, set_field(["config", "n_neighbors"], 0)),
     "config.n_neighbors"),
    ("many-neighbours", lambda d: forge(d, set_field(["segmenter", "params", "n_neighbors"], 10**9)),
     "segmenter.params.n_neighbors"),
    ("unknown-segmenter-param", lambda d: forge(d, set_field(["segmenter", "params", "bogus"], 1)),
     "segmenter.params.bogus is not a field"),
    ("unknown-algorithm-param", lambda d: forge(d, set_field(["segmenter", "params", "params",
                                                             "max_iter"], 5)),
     "max_iter"),
    ("out-of-range-param", lambda d: forge(d, set_field(["config", "params", "n_clusters"], 10**6)),
     "n_clusters"),
    ("unknown-algorithm", lambda d: forge(d, set_field(["config", "algorithm"], "spectral")),
     "spectral"),
    ("params-disagree", lambda d: forge(d, set_field(["segmenter", "params", "n_neighbors"], 7)),
     "segmenter.params.n_neighbors"),
    ("scale-zero", lambda d: forge(d, set_field(["encoding", "scales"], [0.0, 1.0, 1.0])),
     "encoding.scales[0]"),
    ("features-reordered", lambda d: forge(d, set_field(["config", "features"],
                                                        ["spending_score", "age", "annual_income"])),
     "config.features"),
    # found by the adversary: an all-"none" list of the wrong length read a model fitted
    # on a log scale as if it were not
    ("transforms-short", lambda d: forge(d, set_field(["encoding", "transforms"], ["none"])),
     "encoding.transforms has 1 transforms for 3 features"),
    # a feature that neither is a field nor has a definition in config.spec
    ("unknown-feature", lambda d: forge(d, set_field(["config", "features"], ["height"])),
     "config.features: unknown feature 'height'"),
    ("wider-encoding", lambda d: forge(d, set_field(["segmenter", "n_features_in"], 4)),
     "segmenter.n_features_in"),
    ("same-names", lambda d: forge(d, lambda o: [s.__setitem__("name", "Same")
                                                 for s in o["segments"][:2]]),
     "two segments share the name 'Same'"),
    ("same-ids", lambda d: forge(d, lambda o: o["segments"][1].__setitem__("id", 0)),
     "segments repeat an id"),
    ("share-over-one", lambda d: forge(d, set_field(["segments", 0, "share"], 3.0)),
     "segments[0].share"),
    ("sizes-disagree", lambda d: forge(d, set_field(["segments", 0, "size"], 10**6)),
     "segment sizes"),
    ("level-unknown", lambda d: forge(d, set_field(["segments", 0, "levels", "age"], "extreme")),
     "segments[0].levels.age"),
    ("labels-unknown", lambda d: with_arrays(d, reference_labels=np.full(
        len(arrays_of(d)["reference_labels"]), 42, dtype=np.int64),
        classes=np.array([42], dtype=np.int64)), "classes name segments"),
    ("labels-outside-classes", lambda d: with_arrays(d, reference_labels=np.full(
        len(arrays_of(d)["reference_labels"]), 3, dtype=np.int64),
        classes=np.array([0, 1], dtype=np.int64)), "not among the classes"),
    ("reference-nan", lambda d: with_arrays(d, reference_X=np.full_like(
        arrays_of(d)["reference_X"], np.nan)), "non-finite"),
    ("reference-narrow", lambda d: with_arrays(d, reference_X=arrays_of(d)["reference_X"][:, :2]),
     "reference_X has shape"),
    ("labels-short", lambda d: with_arrays(d, reference_labels=arrays_of(d)["reference_labels"][:5]),
     "reference_labels for"),
]


def forge_meta(data: bytes, section: str, key: str, literal: str) -> bytes:
    """model.json with ``section.key`` set to a literal JSON token (``NaN``, which
    :func:`json.dumps` would not write from a dict edit with allow_nan=False)."""
    obj = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("model.json"))
    obj[section][key] = "__TOKEN__"
    return json.dumps(obj).replace('"__TOKEN__"', literal).encode()


#: Class 10: broken structure and wrong types, which used to exit 1.
STRUCTURE = [
    ("duplicate-member", lambda d: forge(d, extra=[("model.json", b"{}")]),
     "holds 'model.json' twice"),
    ("extra-member", lambda d: forge(d, extra=[("run.py", b"print(1)")]), "run.py"),
    ("encrypted-member", lambda d: forge(d, encrypted=("model.json",)), "model.json is encrypted"),
    ("deflate64", lambda d: patch_member(forge(d), "model.json", method=9),
     "compressed with ZIP method 9"),
    ("deep-json", lambda d: forge(d, meta=b"[" * 100_000 + b"]" * 100_000), "not valid JSON"),
    ("deep-field", lambda d: forge(d, _deep(900)), "warnings[0]"),
    ("json-array", lambda d: forge(d, meta=b"[1, 2]"), "not a JSON object"),
    ("neighbours-text", lambda d: forge(d, set_field(["config", "n_neighbors"], "3")),
     "config.n_neighbors: input should be a valid integer"),
    ("levels-number", lambda d: forge(d, set_field(["segments", 0, "levels"], 5)),
     "segments[0].levels: input should be a valid dictionary"),
    ("missing-base", lambda d: forge(d, drop_field(["base"])), "model.json's base is missing"),
    ("missing-feature-list", lambda d: forge(d, drop_field(["encoding", "features"])),
     "encoding.features is missing"),
    ("size-text", lambda d: forge(d, set_field(["segments", 0, "size"], "99")),
     "segments[0].size: input should be a valid integer"),
    ("mean-text", lambda d: forge(d, set_field(["segments", 0, "means", "age"], "41,3")),
     "segments[0].means.age"),
    ("count-bool", lambda d: forge(d, set_field(["quality", "n_used"], True)), "quality.n_used"),
    ("threshold-text", lambda d: forge(d, set_field(["rulebook", "levels", "threshold"], "0.5")),
     "rulebook.levels.threshold"),
    ("unknown-top-field", lambda d: forge(d, set_field(["plugin"], "x")),
     "plugin is not a field custseg knows"),
    ("no-segments", lambda d: forge(d, set_field(["segments"], [])), "segments"),
    ("params-text-number", lambda d: forge(d, lambda o: [o[k]["params"].__setitem__("n_clusters", "5")
                                                       for k in ("config",)]),
     "n_clusters"),
    ("version-text", lambda d: forge(d, manifest_change=set_field(["format_version"], "1")),
     "has model format version '1'"),
    ("sha-not-object", lambda d: forge(d, manifest_change=set_field(["sha256"], "abc")),
     "fails its checksum"),
    ("npz-duplicate", lambda d: forge(d, arrays=rebuild([
        ("reference_X.npy", npy_header((1, 3), data=b"\0" * 24)),
        ("reference_X.npy", npy_header((1, 3), data=b"\0" * 24))])), "holds 'reference_X.npy' twice"),
    ("npz-object-array", lambda d: with_arrays(d, classes=np.array([0, "x"], dtype=object)),
     "classes holds object values"),
    ("npz-big-endian", lambda d: with_arrays(d, reference_X=arrays_of(d)["reference_X"].astype(">f8")),
     "reference_X holds >f8 values"),
    ("npz-float-labels", lambda d: with_arrays(d, reference_labels=arrays_of(d)["reference_labels"]
                                               .astype(float)), "reference_labels holds float64"),
    ("npz-fortran", lambda d: with_arrays(d, reference_X=np.asfortranarray(arrays_of(d)["reference_X"])),
     "C order"),
    ("npz-extra-array", lambda d: with_arrays(d, extra=np.zeros(3)), "extra.npy"),
    ("npz-short-data", lambda d: forge(d, arrays=npz({
        **arrays_of(d), "reference_X": npy_header((600, 3), data=b"\0" * 80)})),
     "reference_X declares (600, 3) values"),
    ("npz-encrypted", lambda d: forge(d, arrays=patch_member(npz(arrays_of(d)), "classes.npy",
                                                            encrypted=True)),
     "classes.npy is encrypted"),
]


#: Class 8: model arrays that expand.
EXPANDING = [
    ("million-identical-customers", lambda d: huge_reference(d), "declares 1,000,000 rows"),
    ("just-over-the-cap", lambda d: huge_reference(d, 100_001), "declares 100,001 rows"),
    ("terabyte-header", lambda d: forge(d, arrays=npz({
        **arrays_of(d), "reference_X": npy_header((10**12, 3))})), "declares 1,000,000,000,000 rows"),
    ("million-columns", lambda d: forge(d, arrays=npz({
        **arrays_of(d), "reference_X": npy_header((2, 10**6))})), "declares 1,000,000 columns"),
    ("huge-json", lambda d: forge(d, meta=b" " * (17 << 20) + b"{}"),
     "model.json declares 17,825,794 bytes"),
]


# ------------------------------------------- categorical features (issue 16)
# Changes to model.json (``change(meta)``) of a model clustered on a categorical feature
# (Geography: France, Germany, Spain), each with a piece of its refusal.

def _spec_feature(meta: dict) -> dict:
    return next(f for f in meta["config"]["spec"]["extra"] if f.get("kind") == "categorical")


CATEGORICAL_FORGED = {
    "categories-too-many": (lambda m: _spec_feature(m).update(
        categories=[f"c{i}" for i in range(101)]), "categories"),
    "category-not-text": (lambda m: _spec_feature(m).update(categories=[1, 2, 3]),
                          "categories"),
    "category-too-long": (lambda m: m["encoding"]["categorical"][0].update(
        categories=["France", "Germany", "S" * 201]), "categorical"),
    "spec-differs-from-encoding": (lambda m: _spec_feature(m).update(
        categories=["France", "Germany", "Italy"]), "differ from the encoding"),
    "unsorted-categories": (lambda m: (m["encoding"]["categorical"][0].update(
        categories=["Spain", "France", "Germany"]), _spec_feature(m).update(
        categories=["Spain", "France", "Germany"])), "not sorted"),
    "unknown-encoding": (lambda m: _spec_feature(m).update(encoding="ordinal"), "encoding"),
    "unknown-kind": (lambda m: _spec_feature(m).update(kind="ordinal"), "kind"),
    "encoding-without-spec": (lambda m: m["encoding"].update(categorical=[]),
                              "encoding.categorical differ"),
    "categorical-with-range": (lambda m: _spec_feature(m).update(range=[0, 1]), "one-hot"),
    "categorical-is-derived": (lambda m: _spec_feature(m).update(source="derived",
                                                                 expr="Age", column=None),
                               "needs a column"),
    "blocks-forged": (set_field(["segmenter", "params", "categorical_blocks"], [3]),
                      "categorical_blocks"),
    "blocks-text": (set_field(["segmenter", "params", "categorical_blocks"], ["3"]),
                    "categorical_blocks"),
}

#: ``(id, change, words)``: apply with ``forge(data, change)``.
CATEGORICAL = [(name, change, words) for name, (change, words) in CATEGORICAL_FORGED.items()]


# --- forged category profiles (a model profiled by at least one column, with a segment
# of at least one customer holding its first value) ---

def _first_profile(meta: dict) -> tuple[str, list[dict]]:
    column = meta["config"]["spec"]["profile_by"][0]
    return column, meta["segments"][0]["categories"][column]


def _lift_off(meta: dict) -> None:
    _first_profile(meta)[1][0]["lift"] *= 3


def _count_over_size(meta: dict) -> None:
    _first_profile(meta)[1][0]["count"] = meta["segments"][0]["size"] + 1


def _base_over_one(meta: dict) -> None:
    column, _ = _first_profile(meta)
    shares = meta["base"]["categories"][column]
    for value in shares:
        shares[value] = 0.9


def _segment_over_one(meta: dict) -> None:
    column, rows = _first_profile(meta)
    base = meta["base"]["categories"][column]
    for r in rows:  # lifts kept consistent, so only the sum is wrong
        r["share"] = 0.9
        r["lift"] = 0.9 / base[r["value"]] if base[r["value"]] > 0 else None


def _not_profiled_by(meta: dict) -> None:
    meta["config"]["spec"]["profile_by"] = meta["config"]["spec"]["profile_by"][1:]


def _profile_by_twice(meta: dict) -> None:
    by = meta["config"]["spec"]["profile_by"]
    by.append(by[0])


def _median_of_another(meta: dict) -> None:
    meta["segments"][0]["medians"]["Bogus"] = 1.0


#: ``(id, change, words)`` over a profiled model: apply with ``forge(data, change)``.
PROFILES = [
    ("lift-not-share-over-base", _lift_off, "is not its share over everyone's share"),
    ("count-over-size", _count_over_size, "more than the segment's"),
    ("base-shares-over-one", _base_over_one, "base.categories' shares of"),
    ("segment-shares-over-one", _segment_over_one, "the shares add up to more than 1"),
    ("categories-not-profiled-by", _not_profiled_by, "which config.spec.profile_by does not"),
    ("profile-by-twice", _profile_by_twice, "config.spec.profile_by repeats a column"),
    ("median-of-another-feature", _median_of_another, "medians are not of the features"),
]
