from __future__ import annotations

import json
import pickle
import zipfile

import numpy as np
import pytest
from hostile_models import forge as forged  # one forger for every model test

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
        assert manifest["format_version"] == 4
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
    with pytest.raises(ModelFileError, match="has model format version 99; this custseg reads versions 1, 2"):
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


def _npz(**arrays) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _huge_header_npz() -> bytes:
    import io

    buf = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    np.lib.format.write_array_header_1_0(buf, header)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("reference_X.npy", buf.getvalue())
    return out.getvalue()


def _set(path, value):
    def change(obj):
        target = obj
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


@pytest.mark.parametrize("forge", [
    lambda d: forged(d, manifest_change=_set(["sha256"], "abc")),
    lambda d: forged(d, meta_change=_set(["config", "ranges"], {"age": [5]})),
    lambda d: forged(d, meta_change=_set(["segmenter", "n_features_in"], 7)),
    lambda d: forged(d, meta_change=_set(["encoding", "scales"], [0.0, 1.0, 1.0])),
    lambda d: forged(d, meta_change=_set(["segments", 0, "name"], 12)),
    lambda d: forged(d, arrays=_huge_header_npz()),
    lambda d: forged(d, arrays=_npz(reference_X=np.zeros((5, 2)),
                                    reference_labels=np.zeros(5, dtype=np.int64),
                                    classes=np.zeros(1, dtype=np.int64))),
    lambda d: forged(d, arrays=_npz(reference_X=np.zeros((5, 3)),
                                    reference_labels=np.full(5, 42, dtype=np.int64),
                                    classes=np.array([42], dtype=np.int64))),
])
def test_forged_model_files_are_refused_cleanly(demo_model, forge):
    bad = forge(model_bytes(demo_model))
    with pytest.raises(ModelFileError):
        model_from_bytes(bad)


def test_deeply_nested_json_is_refused(demo_model):
    import hashlib
    import io

    nested = "[" * 100_000 + "]" * 100_000
    src = zipfile.ZipFile(io.BytesIO(model_bytes(demo_model)))
    manifest = json.loads(src.read("manifest.json"))
    meta = nested.encode()
    manifest["sha256"]["model.json"] = hashlib.sha256(meta).hexdigest()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        zf.writestr("model.json", meta)
        zf.writestr("arrays.npz", src.read("arrays.npz"))
    with pytest.raises(ModelFileError):
        model_from_bytes(out.getvalue())


def test_loaded_results_are_typed_with_integer_ids(demo_model):
    loaded = model_from_bytes(model_bytes(demo_model))
    assert loaded.metrics == demo_model.metrics
    assert loaded.segmenter.fidelity_ == demo_model.segmenter.fidelity_
    assert list(loaded.metrics.stability.per_segment) == [0, 1, 2, 3, 4]


def test_model_without_stability_loads(demo_model):
    # models fitted with stability_resamples=0 (and files from before stability existed)
    older = model_from_bytes(forged(model_bytes(demo_model),
                                     meta_change=lambda obj: obj["metrics"].pop("stability")))
    assert older.metrics.stability is None
    assert older.metrics.quality == demo_model.metrics.quality
    assert "stability" not in older.summary()["metrics"]


def test_a_version_1_model_file_still_loads_and_scores_alike(demo_model, demo):
    """Model files written before features beyond the well-known fields (format 1: no
    input spec, no transforms) are migrated on read."""
    import custseg

    def as_version_1(meta: dict) -> None:
        del meta["config"]["spec"], meta["config"]["transforms"]
        del meta["encoding"]["transforms"]

    old = forged(model_bytes(demo_model), as_version_1,
                manifest_change=lambda m: m.__setitem__("format_version", 1))
    loaded = model_from_bytes(old)
    assert loaded.config.spec.extra == () and loaded.encoding.transforms == ()
    a = custseg.score(demo_model, demo.head(50))
    b = custseg.score(loaded, demo.head(50))
    assert a["segment_id"].tolist() == b["segment_id"].tolist()
    assert a["confidence"].tolist() == b["confidence"].tolist()


def test_a_format_2_file_relabelled_format_1_is_refused(demo_model):
    """Found by the adversary: the manifest has no checksum of its own, and migrating a
    relabelled file dropped its transforms. A format-1 file cannot hold format 2's fields."""
    relabelled = forged(model_bytes(demo_model),
                       manifest_change=lambda m: m.__setitem__("format_version", 1))
    with pytest.raises(ModelFileError, match="its manifest says format version 1, but "
                       "model.json holds spec, which only format 2 has"):
        model_from_bytes(relabelled)


def test_read_model_file_says_the_files_own_version_and_checksum(demo_model, tmp_path):
    """What the scoring service reports (/health's format_version) and hands its workers
    (the SHA-256 they check they loaded the same file by) comes from the file itself."""
    import hashlib

    from custseg.io.model_files import FORMAT_VERSION, read_model_file

    def as_version_1(meta: dict) -> None:
        del meta["config"]["spec"], meta["config"]["transforms"]
        del meta["encoding"]["transforms"]

    current, old = tmp_path / "now.custseg", tmp_path / "old.custseg"
    save_model(demo_model, current)
    old.write_bytes(forged(model_bytes(demo_model), as_version_1,
                           manifest_change=lambda m: m.__setitem__("format_version", 1)))
    for path, version in ((current, FORMAT_VERSION), (old, 1)):
        read = read_model_file(path)
        assert read.format_version == version
        assert read.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert read.model.segments == load_model(path).segments
