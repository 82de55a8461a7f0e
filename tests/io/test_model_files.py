from __future__ import annotations

import json
import pickle
import zipfile

import numpy as np
import pytest

from custseg.errors import ModelFileError
from custseg.io.model_files import load_model, model_bytes, model_from_bytes, save_model


class Boobytrap:
    """Unpickling this creates a file: proof that a pickle was (or was not) run."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_save_then_load_gives_identical_predictions(demo_model, demo, tmp_path):
    path = tmp_path / "exact name.model"
    assert save_model(demo_model, path) == path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exact name.model"]
    loaded = load_model(path)
    values = demo.astype({"age": float, "annual_income": float, "spending_score": float})
    a, b = demo_model.assign(values), loaded.assign(values)
    assert np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.confidence, b.confidence)
    assert np.array_equal(a.atypical, b.atypical)
    assert loaded.summary() == demo_model.summary()


def test_file_is_plain_data(demo_model):
    with zipfile.ZipFile(__import__("io").BytesIO(model_bytes(demo_model))) as zf:
        assert sorted(zf.namelist()) == ["arrays.npz", "manifest.json", "model.json"]
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["format"] == "custseg-model"
        assert manifest["format_version"] == 1
        assert set(manifest["sha256"]) == {"model.json", "arrays.npz"}
        meta = json.loads(zf.read("model.json"))
        assert meta["config"]["algorithm"] == "kmeans"


def test_pickle_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "model.custseg"
    evil.write_bytes(pickle.dumps(Boobytrap(marker)))
    with pytest.raises(ModelFileError, match="is a Python pickle, which custseg never loads"):
        load_model(evil)
    assert not marker.exists()


def test_joblib_style_compressed_pickle_is_refused(tmp_path):
    import zlib

    path = tmp_path / "model.joblib"
    path.write_bytes(zlib.compress(pickle.dumps({"a": 1})))
    with pytest.raises(ModelFileError, match="compressed file"):
        load_model(path)


def _rewrite(data: bytes, member: str, content: bytes) -> bytes:
    import io

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, content if name == member else src.read(name))
    return out.getvalue()


def test_tampered_model_is_refused_by_checksum(demo_model):
    data = model_bytes(demo_model)
    meta = json.loads(zipfile.ZipFile(__import__("io").BytesIO(data)).read("model.json"))
    meta["segments"][0]["name"] = "Hacked"
    tampered = _rewrite(data, "model.json", json.dumps(meta).encode())
    with pytest.raises(ModelFileError, match=r"fails its checksum \(model.json was changed"):
        model_from_bytes(tampered)


def test_truncated_model_is_refused(demo_model):
    data = model_bytes(demo_model)
    with pytest.raises(ModelFileError, match="damaged or truncated"):
        model_from_bytes(data[: len(data) // 2])


def test_other_format_version_is_refused(demo_model):
    data = model_bytes(demo_model)
    manifest = json.loads(zipfile.ZipFile(__import__("io").BytesIO(data)).read("manifest.json"))
    manifest["format_version"] = 99
    with pytest.raises(ModelFileError, match="has model format version 99; this custseg reads version 1"):
        model_from_bytes(_rewrite(data, "manifest.json", json.dumps(manifest).encode()))


def test_arrays_with_objects_are_refused(demo_model):
    import io

    data = model_bytes(demo_model)
    buf = io.BytesIO()
    np.save(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    arrays = io.BytesIO()
    with zipfile.ZipFile(arrays, "w") as npz:
        npz.writestr("reference_X.npy", buf.getvalue())
    forged = _rewrite(data, "arrays.npz", arrays.getvalue())
    # the checksum catches it first; a forged checksum would still meet allow_pickle=False
    with pytest.raises(ModelFileError):
        model_from_bytes(forged)


def test_other_zip_and_missing_file(tmp_path):
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(ModelFileError, match="ZIP archive but not a custseg model"):
        model_from_bytes(buf.getvalue())
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "nope.custseg")
