"""Model files: data, never code.

A model file is a ZIP archive with exactly three members:

- ``manifest.json`` — format name and version, custseg version, and the SHA-256 of the
  two members below;
- ``model.json`` — configuration, encoding, profiles, rulebook, metrics (plain JSON);
- ``arrays.npz`` — the assigner's reference set, read with ``allow_pickle=False``.

Nothing in it is executed on load: no pickle, no joblib. A file that is not such an
archive (a pickle renamed, a truncated copy), names another format version, or fails
its checksum is refused with a clear error before anything in it is used. The checksum
guards against corruption and accidental edits; the format being data-only is what
makes loading an untrusted file safe.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from custseg.errors import CustsegError, ModelFileError, shown
from custseg.io.model_schema import (
    MEMBER_LIMITS,
    check_arrays,
    check_document,
    check_members,
    check_model,
    read_arrays,
)
from custseg.io.outputs import atomic_path, check_output_path
from custseg.model.segmentation import SegmentationModel

FORMAT = "custseg-model"
FORMAT_VERSION = 4
#: Versions read: 1 (the well-known fields only) is migrated on read (see _migrate); 2
#: (other features, no categorical ones, no mapping or income unit kept) reads as 3; 3
#: (no transaction log's aggregation, no returns only set apart, no ``rfm_scoring`` block
#: of RFM models) reads as 4.
READS_VERSIONS = (1, 2, 3, 4)
#: What format 4 added (refused in an older file: it was altered).
_SINCE_4 = ("transactions", "config.spec.returns_only", "quality.n_returns_only",
            "rfm_scoring")
MEMBERS = ("manifest.json", "model.json", "arrays.npz")
#: Largest model file: its members' declared sizes (see model_schema.MEMBER_LIMITS),
#: stored uncompressed, with room for the archive's own records.
MAX_FILE_BYTES = 64 << 20


def _custseg_version() -> str:
    try:
        return version("custseg")
    except PackageNotFoundError:  # running from a source tree
        return "unknown"


def model_bytes(model: SegmentationModel) -> bytes:
    """The model file's bytes (for downloads and :func:`save_model`).

    The model is checked as a loaded one is (see :mod:`custseg.io.model_schema`) first:
    custseg never writes a file it would refuse to read.
    """
    meta, arrays = model.state()
    try:
        check_document(meta)
        check_arrays(arrays)
        check_model(model)
    except ModelFileError as exc:
        raise ModelFileError(f"this model cannot be saved as a model file: {exc.message}") from None
    meta_bytes = json.dumps(meta, indent=1, sort_keys=True, allow_nan=False).encode("utf-8")
    buf = io.BytesIO()
    np.savez(buf, **{k: np.ascontiguousarray(v) for k, v in arrays.items()})
    arrays_bytes = buf.getvalue()
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "custseg_version": _custseg_version(),
        "sha256": {
            "model.json": hashlib.sha256(meta_bytes).hexdigest(),
            "arrays.npz": hashlib.sha256(arrays_bytes).hexdigest(),
        },
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
        zf.writestr("model.json", meta_bytes)
        zf.writestr("arrays.npz", arrays_bytes)
    return out.getvalue()


def save_model(
    model: SegmentationModel, path: str | os.PathLike[str], *,
    inputs: Sequence[str | os.PathLike[str] | None] = (), force: bool = False,
) -> Path:
    """Write the model to exactly ``path`` (atomically).

    ``path`` may not be one of ``inputs`` (the files the model was made from), nor an
    existing file that is not a model (a customer table, say) unless ``force``; see
    :func:`custseg.io.outputs.check_output_path`.
    """
    target = check_output_path(path, *inputs, kind="model", force=force)
    data = model_bytes(model)
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return target


def load_model(path: str | os.PathLike[str]) -> SegmentationModel:
    """Read a model file written by :func:`save_model`, refusing anything else."""
    return read_model_file(path).model


@dataclass(frozen=True)
class ModelFile:
    """A model file read and checked: the model, the format version its manifest
    declares (a file of an older version is read as the current one), and the SHA-256
    of the file's bytes, by which other processes can tell they loaded the same file."""

    model: SegmentationModel
    format_version: int
    sha256: str


def read_model_file(path: str | os.PathLike[str]) -> ModelFile:
    """:func:`load_model`, with what the file itself says (see :class:`ModelFile`)."""
    source = Path(path)
    if not source.is_file():
        data, name = _read_special(source), str(source)
    else:
        if source.stat().st_size > MAX_FILE_BYTES:
            raise ModelFileError(
                f"{shown(str(source))} is larger than any custseg model file "
                f"({MAX_FILE_BYTES >> 20} MB at most); it is not a model."
            )
        data, name = source.read_bytes(), source.name
    model, got = _model_and_version(data, name)
    return ModelFile(model, got, hashlib.sha256(data).hexdigest())


def _read_special(source: Path) -> bytes:
    """What a path that is not a regular file brings: a named pipe (``<(cat m.custseg)``)
    is read once, at most :data:`MAX_FILE_BYTES` (its first bytes checked before the
    rest is read); anything else is refused by what it is."""
    import stat

    try:
        mode = source.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise ModelFileError(f"model file {shown(str(source))} does not exist.") from None
    if stat.S_ISDIR(mode):
        raise ModelFileError(f"{shown(str(source))} is a folder; give a model file.")
    if not stat.S_ISFIFO(mode):
        what = ("a character device" if stat.S_ISCHR(mode) else "a socket"
                if stat.S_ISSOCK(mode) else "a block device" if stat.S_ISBLK(mode)
                else "not a regular file")
        raise ModelFileError(f"{shown(str(source))} is {what}; give a model file.")
    with open(source, "rb") as pipe:
        head = pipe.read(4)
        if not head.startswith(b"PK\x03\x04"):
            return head  # refused by model_from_bytes, by what it starts with
        data = head + pipe.read(MAX_FILE_BYTES + 1 - len(head))
    if len(data) > MAX_FILE_BYTES:
        raise ModelFileError(
            f"{shown(str(source))} is a named pipe bringing more than any custseg model file "
            f"({MAX_FILE_BYTES >> 20} MB at most); it is not a model."
        )
    return data


def model_from_bytes(data: bytes, name: str = "model") -> SegmentationModel:
    """Parse model-file bytes (an upload, say), refusing anything that is not one.

    Every field is checked before use (:mod:`custseg.io.model_schema`): the archive's
    members and declared sizes, each array's header before its data, ``model.json``
    against its typed shape, then the parts against each other. A refusal is a
    :class:`ModelFileError` naming the file and the field.
    """
    return _model_and_version(data, name)[0]


def _model_and_version(data: bytes, name: str) -> tuple[SegmentationModel, int]:
    """:func:`model_from_bytes`, and the format version the file declares."""
    if len(data) > MAX_FILE_BYTES:
        raise ModelFileError(f"{shown(name)} is too large to be a custseg model file.")
    if not data.startswith(b"PK\x03\x04"):
        raise ModelFileError(f"{shown(name)} is not a custseg model file: {_what(data)}.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [info.filename for info in zf.infolist()]
            if not set(MEMBERS) <= set(names):
                raise ModelFileError(
                    f"{shown(name)} is a ZIP archive but not a custseg model file (its "
                    f"members are {sorted(set(names))[:5]!r:.300})."
                )
            check_members(zf, MEMBER_LIMITS, "the model archive")
            blobs = {member: zf.read(member) for member in MEMBERS}
    except ModelFileError as exc:
        if exc.message.startswith(shown(name)):
            raise
        raise ModelFileError(f"{shown(name)}: {exc.message}") from None
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, OSError, ValueError,
            RuntimeError, NotImplementedError) as exc:
        raise ModelFileError(
            f"{shown(name)} is damaged or truncated ({str(exc)[:200]}); save the model again."
        ) from None
    manifest = _json(blobs["manifest.json"], name, "manifest.json")
    if manifest.get("format") != FORMAT:
        raise ModelFileError(f"{shown(name)} is not a custseg model file (format field).")
    got = manifest.get("format_version")
    if got not in READS_VERSIONS or isinstance(got, bool):
        got = got if isinstance(got, int) and not isinstance(got, bool) else shown(got, 20)
        wrote = manifest.get("custseg_version", "unknown")
        raise ModelFileError(
            f"{shown(name)} has model format version {got}; this custseg reads versions "
            f"{', '.join(map(str, READS_VERSIONS))}. Refit the model with this version, or "
            f"use the custseg version that wrote it ({shown(wrote, 30)[1:-1]})."
        )
    sums = manifest.get("sha256")
    sums = sums if isinstance(sums, dict) else {}
    for member in ("model.json", "arrays.npz"):
        if hashlib.sha256(blobs[member]).hexdigest() != sums.get(member):
            raise ModelFileError(
                f"{shown(name)} fails its checksum ({member} was changed or damaged); it "
                "is refused. Save the model again from its source."
            )
    meta = _json(blobs["model.json"], name, "model.json")
    try:
        if got == 1:
            meta = _migrate(meta)
        if got < 4:
            _refuse_later(meta, got)
        arrays = read_arrays(blobs["arrays.npz"])
        check_document(meta)
        model = SegmentationModel.from_state(meta, arrays)
        check_model(model)
        return model, got
    except ModelFileError as exc:
        raise ModelFileError(f"{shown(name)}: {exc.message}") from None
    except CustsegError as exc:
        raise ModelFileError(f"{shown(name)} holds invalid settings: {exc.message}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError,
            MemoryError, OverflowError, zipfile.BadZipFile, EOFError, RuntimeError,
            NotImplementedError) as exc:
        raise ModelFileError(
            f"{shown(name)} passes its checksum but its content is inconsistent "
            f"({type(exc).__name__}: {str(exc)[:200]}); it was not written by this version "
            "of custseg."
        ) from None


def _migrate(meta: dict[str, Any]) -> dict[str, Any]:
    """A version-1 ``model.json`` (the well-known fields only) as version 2 has it: no
    other features, no transforms. Anything else in it is checked as version 2's."""
    config, encoding = meta.get("config"), meta.get("encoding")
    if isinstance(config, dict) and isinstance(encoding, dict):
        later = [k for k in ("spec", "transforms") if k in config] + [
            f"encoding.{k}" for k in ("transforms",) if k in encoding]
        if later:
            raise ModelFileError(
                f"its manifest says format version 1, but model.json holds {later[0]}, which "
                "only format 2 has; the file was altered. Save the model again.")
        config = {**config, "spec": {"extra": [], "as_of": None, "date_formats": {}},
                  "transforms": {}}
        features = encoding.get("features")
        count = len(features) if isinstance(features, list) else 0
        encoding = {**encoding, "transforms": ["none"] * count}
        return {**meta, "config": config, "encoding": encoding}
    return meta


def _refuse_later(meta: dict[str, Any], got: int) -> None:
    """A file of format ``got`` (< 4) holding what only format 4 has was altered."""
    for path in _SINCE_4:
        node: Any = meta
        for key in path.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None:
            raise ModelFileError(
                f"its manifest says format version {got}, but model.json holds {path}, "
                "which only format 4 has; the file was altered. Save the model again.")


def _json(blob: bytes, name: str, member: str) -> dict[str, Any]:
    try:
        value = json.loads(blob.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ModelFileError(f"{shown(name)}: {member} is not valid JSON; the file is damaged.") from None
    except ValueError as exc:
        raise ModelFileError(f"{shown(name)}: {member} {exc}.") from None
    if not isinstance(value, dict):
        raise ModelFileError(f"{shown(name)}: {member} is not a JSON object.")
    return value


def _no_constant(word: str) -> None:
    """NaN and Infinity are not JSON: custseg writes none (a missing number is null)."""
    raise ValueError(f"holds {word}, which is not a JSON number (custseg writes null for a "
                     "missing number); the file was edited or not written by custseg")


def _what(data: bytes) -> str:
    if not data:
        return "it is empty"
    if data[:1] == b"\x80" and len(data) > 1 and data[1] <= 5:
        return "it is a Python pickle, which custseg never loads (pickles can run code)"
    compressed = (b"\x1f\x8b", b"x\x9c", b"x\x01", b"x\xda", b"BZh", b"\xfd7zXZ\x00")
    if data.startswith(compressed):
        return "it is a compressed file (a joblib dump?), which custseg never loads"
    return "it does not start like one (a custseg model is a .custseg ZIP archive)"
