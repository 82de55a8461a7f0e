"""What a model file may hold, checked before anything in it is used.

A model file whose checksum was recomputed after an edit passes the checksum, so the
content itself is checked, in three steps, each refusing with the field it found wrong:

1. the archives: the ZIP and the arrays' ``.npz`` hold exactly their members, once
   each, unencrypted, compressed with a method Python reads, within declared sizes;
   each array's header (read before its data) declares the dtype and a bounded shape
   whose bytes the member's declared size holds exactly — a reference set of a million
   customers is refused from its 128-byte header, never decompressed;
2. ``model.json`` against its typed shape (:class:`ModelDoc`): every field's type
   (strictly), range, finiteness and length; names and texts without control
   characters; no field missing, none unknown;
3. the parts against each other (:func:`check_model`): features, encoding and arrays
   of one width; the segmenter's settings those of the config and of the registry;
   labels naming known segments; names unique; counts adding up.

The same checks run on a model before it is written (:func:`custseg.io.model_files.
model_bytes`), so custseg never writes a model file it would refuse to read.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, StringConstraints, ValidationError

from custseg.cluster.algorithms import MAX_NEIGHBORS, MAX_REFERENCE_SIZE, MAX_SEED, get_algorithm
from custseg.cluster.assignment import SEGMENTER_PARAMS
from custseg.cluster.features import MAX_CATEGORY_COLUMNS, MAX_GENDER_CATEGORIES, check_features
from custseg.cluster.labels import MAX_MODEL_SEGMENTS, RETURNS_ONLY
from custseg.errors import CustsegError, ModelFileError
from custseg.model.segmentation import SegmentationModel
from custseg.segments.categories import MAX_COLUMNS as MAX_PROFILE_COLUMNS
from custseg.segments.categories import MAX_ENTRIES, MAX_VALUE_CHARS, MAX_VALUES
from custseg.segments.schema import (
    Feature,
    Level,
    Name,
    RulebookDoc,
    Strict,
    Text,
    _text_check,
    problem_text,
)
from custseg.table.derive import MAX_LENGTH
from custseg.table.fields import FIELDS, INCOME_UNITS
from custseg.table.roles import ROLES
from custseg.table.spec import (
    ENCODINGS,
    MAX_CATEGORIES,
    MAX_CATEGORY_LENGTH,
    MAX_FEATURE_NAME,
    MAX_FEATURES,
    TRANSFORMS,
    role_of,
)
from custseg.table.transactions import COLUMN_ROLES, log_spec_problem

#: Most reference customers a model file holds: twice the largest reference set a fit
#: keeps, room for the floor of rows each segment is given.
MAX_REFERENCE_ROWS = 2 * MAX_REFERENCE_SIZE
#: Most segments a model holds (a fit with more than 20 already warns).
MAX_SEGMENTS = MAX_MODEL_SEGMENTS
#: Widest clustering space: the numeric features, the one-hot gender columns and the
#: one-hot columns of the categorical features.
MAX_COLUMNS = MAX_FEATURES + MAX_GENDER_CATEGORIES + MAX_CATEGORY_COLUMNS
#: Largest declared (uncompressed) size of each member of the model ZIP.
MEMBER_LIMITS = {"manifest.json": 64 << 10, "model.json": 16 << 20, "arrays.npz": 32 << 20}
#: The arrays of ``arrays.npz``: dtype, number of dimensions, largest first dimension.
ARRAYS = {
    "reference_X": (np.dtype("<f8"), 2, MAX_REFERENCE_ROWS),
    "reference_labels": (np.dtype("<i8"), 1, MAX_REFERENCE_ROWS),
    "classes": (np.dtype("<i8"), 1, MAX_SEGMENTS),
}
#: ZIP compression methods Python reads (deflate64, say, it does not).
COMPRESSIONS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate",
                zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}
MAX_COUNT = 10**15
MAX_SEGMENT_ID = 10**6

Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Positive = Annotated[int, Field(ge=1, le=MAX_COUNT)]
Share = Annotated[float, Field(ge=0, le=1)]
Stat = float | None
#: A feature's name: a well-known field, a header as written, or a derived name.
FeatureName = Annotated[str, _text_check(MAX_FEATURE_NAME, empty=False)]
Stats = Annotated[dict[FeatureName, Stat], Field(max_length=MAX_FEATURES + 3)]
SegmentId = Annotated[int, Field(ge=RETURNS_ONLY, le=MAX_SEGMENT_ID)]
#: A gender answer as the data gave it: any text (shown escaped wherever it goes), bounded.
GenderText = Annotated[str, StringConstraints(max_length=1_000)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z_]+$")]
ParamValue = int | float | str | None
SampleSize = Annotated[int, Field(ge=2, le=MAX_COUNT)] | Literal["all"] | None
Neighbours = Annotated[int, Field(ge=1, le=MAX_NEIGHBORS)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
ReferenceSize = Annotated[int, Field(ge=2, le=MAX_REFERENCE_SIZE)]
#: A category as the data gave it (trimmed): any text (shown escaped), bounded.
CategoryText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CATEGORY_LENGTH)]
Categories = Annotated[list[CategoryText], Field(max_length=MAX_CATEGORIES)]


class FeatureDoc(Strict):
    name: FeatureName
    source: Literal["column", "derived"]
    role: Literal[ROLES]
    unit: Annotated[str, _text_check(40)]
    range: Annotated[list[float], Field(min_length=2, max_length=2)] | None
    column: FeatureName | None
    expr: Annotated[str, _text_check(MAX_LENGTH, empty=False)] | None
    min_value: Annotated[float, Field(ge=0, le=0)] | None = None
    # a categorical feature's (absent from numeric features and from older files)
    kind: Literal["categorical"] | None = None
    categories: Categories | None = None
    encoding: Literal[ENCODINGS] | None = None


class CategoricalDoc(Strict):
    name: FeatureName
    categories: Annotated[list[CategoryText], Field(min_length=2, max_length=MAX_CATEGORIES)]


class ReturnsOnlyRuleDoc(Strict):
    frequency: FeatureName
    absent: Annotated[list[FeatureName], Field(max_length=MAX_FEATURES)]


class SpecDoc(Strict):
    extra: Annotated[list[FeatureDoc], Field(max_length=MAX_FEATURES)]
    as_of: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")] | None
    date_formats: Annotated[dict[FeatureName, Annotated[str, _text_check(100, empty=False)]],
                            Field(max_length=MAX_FEATURES)]
    income_unit: Literal[INCOME_UNITS] | None = None
    mapping: dict[Literal[FIELDS], Annotated[str, _text_check(MAX_FEATURE_NAME, empty=False)]] = {}
    profile_by: Annotated[list[FeatureName], Field(max_length=MAX_PROFILE_COLUMNS)] = []
    returns_only: ReturnsOnlyRuleDoc | None = None


#: A category value as the data wrote it: any text (shown escaped wherever it goes).
CategoryValue = Annotated[str, StringConstraints(max_length=MAX_VALUE_CHARS)]
#: A column's values and their shares of everyone.
CategoryShares = Annotated[dict[CategoryValue, Share], Field(max_length=MAX_VALUES)]


class CategoryEntryDoc(Strict):
    value: CategoryValue
    share: Share | None
    lift: Annotated[float, Field(ge=0)] | None
    count: Count = 0


class ConfigDoc(Strict):
    algorithm: Key
    params: Annotated[dict[Key, ParamValue], Field(max_length=20)]
    features: Annotated[list[FeatureName], Field(min_length=1, max_length=MAX_FEATURES)]
    use_gender: bool
    n_neighbors: Neighbours
    sample_size: SampleSize
    reference_size: ReferenceSize
    random_state: Seed
    ranges: dict[Feature, Annotated[list[float], Field(min_length=2, max_length=2)]]
    stability_resamples: Annotated[int, Field(ge=0, le=1_000)]
    spec: SpecDoc
    transforms: Annotated[dict[FeatureName, Literal[("auto", *TRANSFORMS)]],
                          Field(max_length=MAX_FEATURES)]


class EncodingDoc(Strict):
    features: Annotated[list[FeatureName], Field(min_length=1, max_length=MAX_FEATURES)]
    means: Annotated[list[float], Field(max_length=MAX_FEATURES)]
    scales: Annotated[list[Annotated[float, Field(gt=0)]], Field(max_length=MAX_FEATURES)]
    gender_categories: Annotated[list[GenderText], Field(max_length=MAX_GENDER_CATEGORIES)]
    transforms: Annotated[list[Literal[TRANSFORMS]], Field(max_length=MAX_FEATURES)]
    categorical: Annotated[list[CategoricalDoc], Field(max_length=MAX_FEATURES)] = []


class SegmenterParamsDoc(Strict):
    algorithm: Key
    params: Annotated[dict[Key, ParamValue], Field(max_length=20)]
    n_neighbors: Neighbours
    sample_size: SampleSize
    random_state: Seed
    reference_size: ReferenceSize
    atypical_quantile: Annotated[float, Field(gt=0, le=1)]
    categorical_blocks: Annotated[list[Annotated[int, Field(ge=1, le=MAX_CATEGORIES)]],
                                  Field(min_length=1, max_length=MAX_FEATURES + 1)] | None = None


class FidelityDoc(Strict):
    cv_agreement: Share | None
    native_agreement: Share | None
    evaluated_on: Count


class SegmenterDoc(Strict):
    params: SegmenterParamsDoc
    atypical_threshold: Annotated[float, Field(ge=0)]
    n_features_in: Annotated[int, Field(ge=1, le=MAX_COLUMNS)]
    n_fit_rows: Positive
    fidelity: FidelityDoc


class BaseDoc(Strict):
    n: Positive
    means: Stats
    stds: Stats
    mins: Stats
    maxs: Stats
    gender_mix: dict[GenderText, Share]
    categories: Annotated[dict[FeatureName, CategoryShares],
                          Field(max_length=MAX_PROFILE_COLUMNS)] = {}


class SegmentRuleDoc(Strict):
    text: Text
    precision: Share
    coverage: Share


class SegmentDoc(Strict):
    id: SegmentId
    name: Name
    size: Count
    share: Share
    means: Stats
    mins: Stats
    maxs: Stats
    z: Stats
    levels: Annotated[dict[FeatureName, Level], Field(max_length=MAX_FEATURES + 3)]
    gender_mix: dict[GenderText, Share]
    description: Text
    strategy: Text
    facts: Annotated[list[Text], Field(max_length=20)] = []
    rules: Annotated[list[SegmentRuleDoc], Field(max_length=100)] = []
    edited: bool = False
    medians: Stats = {}
    categories: Annotated[
        dict[FeatureName, Annotated[list[CategoryEntryDoc], Field(max_length=MAX_VALUES)]],
        Field(max_length=MAX_PROFILE_COLUMNS)] = {}


class StabilityDoc(Strict):
    overall: Annotated[float, Field(ge=-1, le=1)] | None
    per_segment: dict[Annotated[str, StringConstraints(pattern=r"^-?[0-9]{1,7}$")], Share]
    resamples: Count
    rows: Count
    reading: Text


class MetricsDoc(Strict):
    silhouette: Annotated[float, Field(ge=-1, le=1)] | None
    davies_bouldin: Annotated[float, Field(ge=0)] | None
    calinski_harabasz: Annotated[float, Field(ge=0)] | None
    metric_rows: Count
    n_segments: Count
    noise_share: Share
    stability: StabilityDoc | None = None


class QualityDoc(Strict):
    n_input: Count
    n_used: Count
    n_invalid: Count
    reasons: Annotated[dict[Annotated[Text, StringConstraints(max_length=200)], Count],
                       Field(max_length=1_000)]
    n_duplicate_rows: Count = 0
    n_returns_only: Count = 0


LogHeader = Annotated[str, _text_check(MAX_FEATURE_NAME, empty=False)]


class TransactionsDoc(Strict):
    """How the customers were aggregated from a log (``fit --transactions``)."""

    columns: Annotated[dict[Literal[COLUMN_ROLES], LogHeader], Field(min_length=2,
                                                                     max_length=6)]
    value: Literal["amount", "quantity_price"]
    date_format: Annotated[str, _text_check(100, empty=False)] | None
    date_read: Annotated[str, _text_check(100, empty=False)] | None


ScoreRole = Literal["recency", "frequency", "monetary"]
CutPoints = Annotated[list[float], Field(min_length=4, max_length=4)]


class UnfittedSegmentDoc(Strict):
    id: Annotated[int, Field(ge=0, le=MAX_SEGMENT_ID)]
    name: Name
    description: Text
    strategy: Text


class RFMDoc(Strict):
    """An RFM model's scoring (``--algorithm rfm``, format 4): the feature of each role,
    its four cut points, the segment id of each of the 125 cells, and the segments of
    the map no fitted customer fell in."""

    features: Annotated[dict[ScoreRole, FeatureName], Field(min_length=3, max_length=3)]
    cuts: Annotated[dict[ScoreRole, CutPoints], Field(min_length=3, max_length=3)]
    cells: Annotated[list[Annotated[int, Field(ge=0, le=MAX_SEGMENT_ID)]],
                     Field(min_length=125, max_length=125)]
    unfitted: Annotated[list[UnfittedSegmentDoc], Field(max_length=125)] = []


class ModelDoc(Strict):
    """``model.json``: what :meth:`SegmentationModel.state` writes, field by field."""

    config: ConfigDoc
    encoding: EncodingDoc
    segmenter: SegmenterDoc
    base: BaseDoc
    segments: Annotated[list[SegmentDoc], Field(min_length=1, max_length=MAX_SEGMENTS)]
    metrics: MetricsDoc
    quality: QualityDoc
    rulebook: RulebookDoc
    warnings: Annotated[list[Text], Field(max_length=100)] = []
    transactions: TransactionsDoc | None = None
    rfm_scoring: RFMDoc | None = None


def check_document(meta: Any) -> None:
    """Refuse ``model.json`` content that does not have :class:`ModelDoc`'s shape."""
    try:
        doc = ModelDoc.model_validate(meta)
    except ValidationError as exc:
        raise ModelFileError(f"model.json's {problem_text(exc)}.") from None
    log = doc.transactions
    if log is not None and log.value != ("amount" if "amount" in log.columns
                                         else "quantity_price"):
        raise ModelFileError(f"model.json's transactions.value is {log.value!r}, but its "
                             "columns say otherwise.")


# ------------------------------------------------------------------------ archives


def check_members(zf: zipfile.ZipFile, expected: Mapping[str, int], where: str) -> None:
    """Exactly the ``expected`` members (name -> largest declared size), once each,
    unencrypted, with a compression method Python reads."""
    infos = zf.infolist()
    names = [info.filename for info in infos]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ModelFileError(f"{where} holds {twice[0]!r:.80} twice; a model file holds each "
                             "member once.")
    if set(names) != set(expected):
        raise ModelFileError(f"{where} holds {sorted(names)[:5]!r:.200} where a model file holds "
                             f"{', '.join(expected)}.")
    for info in infos:
        if info.flag_bits & 0x1:
            raise ModelFileError(f"{where}: {info.filename} is encrypted; custseg model files "
                                 "never are. Save the model again.")
        if info.compress_type not in COMPRESSIONS:
            raise ModelFileError(
                f"{where}: {info.filename} is compressed with ZIP method {info.compress_type}, "
                f"which custseg does not read (it reads {', '.join(COMPRESSIONS.values())}). "
                "Save the model again."
            )
        if info.file_size > expected[info.filename]:
            raise ModelFileError(
                f"{where}: {info.filename} declares {info.file_size:,} bytes, more than a "
                f"model file's {expected[info.filename]:,}; it is refused before it is read."
            )


def read_arrays(blob: bytes) -> dict[str, np.ndarray]:
    """The arrays of ``arrays.npz``, each refused from its header (dtype, shape, size)
    before any of its data is read; never a pickle."""
    import io

    sizes = {f"{key}.npy": MEMBER_LIMITS["arrays.npz"] for key in ARRAYS}
    arrays = {}
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        check_members(zf, sizes, "arrays.npz")
        for key, (dtype, ndim, max_rows) in ARRAYS.items():
            info = zf.getinfo(f"{key}.npy")
            with zf.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                        else np.lib.format.read_array_header_2_0)
                shape, fortran, found = read(fh)
                start = fh.tell()
                _check_header(key, shape, fortran, found, dtype, ndim, max_rows)
                need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                if info.file_size != start + need:
                    raise ModelFileError(
                        f"arrays.npz: {key} declares {shape} values, but its member holds "
                        f"{max(info.file_size - start, 0):,} bytes of data, not {need:,}."
                    )
                data = fh.read(need)
                if len(data) != need:
                    raise ModelFileError(f"arrays.npz: {key} ends before its data does.")
                arrays[key] = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    check_arrays(arrays)
    return arrays


def _check_header(key: str, shape: tuple, fortran: bool, found: np.dtype, dtype: np.dtype,
                  ndim: int, max_rows: int) -> None:
    if found != dtype:
        raise ModelFileError(f"arrays.npz: {key} holds {found} values; a model file holds "
                             f"{dtype} ({dtype.name}).")
    if fortran or len(shape) != ndim:
        raise ModelFileError(f"arrays.npz: {key} has shape {shape}; a model file's is "
                             f"{ndim}-dimensional, in C order.")
    if shape[0] > max_rows:
        raise ModelFileError(
            f"arrays.npz: {key} declares {shape[0]:,} rows; a model file holds at most "
            f"{max_rows:,} (the reference set of a fit is at most {MAX_REFERENCE_SIZE:,} "
            "customers). It is refused before its data is read."
        )
    if ndim == 2 and not 1 <= shape[1] <= MAX_COLUMNS:
        raise ModelFileError(f"arrays.npz: {key} declares {shape[1]:,} columns; a model "
                             f"has 1 to {MAX_COLUMNS}.")


def check_arrays(arrays: Mapping[str, np.ndarray]) -> None:
    """Arrays as a model holds them (dtype and shape, as :func:`read_arrays` checks them
    from the headers), with finite reference values and one label per reference row."""
    if set(arrays) != set(ARRAYS):
        raise ModelFileError(f"the model's arrays are {sorted(arrays)}, not {sorted(ARRAYS)}.")
    for key, (dtype, ndim, max_rows) in ARRAYS.items():
        value = np.asarray(arrays[key])
        _check_header(key, value.shape, False, value.dtype, dtype, ndim, max_rows)
    X, labels = arrays["reference_X"], arrays["reference_labels"]
    if len(X) < 1 or len(labels) != len(X):
        raise ModelFileError(f"arrays.npz: {len(labels):,} reference_labels for {len(X):,} "
                             "reference customers (one each, at least one).")
    if not np.isfinite(X).all():
        raise ModelFileError("arrays.npz: reference_X holds non-finite values (NaN or "
                             "infinity).")


# ------------------------------------------------------------------ consistency


def check_model(model: SegmentationModel) -> None:
    """The parts of a model agree with each other and with the registry; refuses with
    the first disagreement, naming its fields."""
    problem = _first_problem(model)
    if problem:
        raise ModelFileError(f"the model file is inconsistent: {problem}.")


def _first_problem(model: SegmentationModel) -> str | None:
    config, enc, seg = model.config, model.encoding, model.fitted
    try:
        spec = get_algorithm(config.algorithm)
        resolved = spec.resolve(config.params)
    except CustsegError as exc:
        return f"config.algorithm/params: {exc.message}"
    for name in sorted(set(resolved) | set(config.params)):
        value = config.params.get(name, "(missing)")
        if type(value) is not type(resolved.get(name)) or value != resolved.get(name):
            return (f"config.params.{name} is {value!r:.40}; the algorithm's checked value is "
                    f"{resolved.get(name)!r:.40}")
    try:
        canonical = check_features(config.features, config.spec.numeric_names)
    except CustsegError as exc:
        return f"config.features: {exc.message}"
    if tuple(config.features) != canonical:
        return "config.features are not in custseg's order, or repeat a feature"
    problem = _spec_problem(config)
    if problem:
        return problem
    if tuple(enc.features) != tuple(config.features):
        return "encoding.features differ from config.features"
    if not len(enc.means) == len(enc.scales) == len(enc.features):
        return "encoding.means and encoding.scales need one value per feature"
    if enc.transforms and len(enc.transforms) != len(enc.features):
        return "encoding.transforms need one transform per feature"
    problem = _categorical_problem(model)
    if problem:
        return problem
    if config.use_gender != bool(enc.gender_categories):
        return "config.use_gender disagrees with encoding.gender_categories"
    if len(set(enc.gender_categories)) != len(enc.gender_categories):
        return "encoding.gender_categories repeat a category"
    sp = seg.params
    for name in SEGMENTER_PARAMS:
        if name in ("params", "atypical_quantile", "categorical_blocks"):
            continue
        if sp[name] != getattr(config, name):
            return f"segmenter.params.{name} ({sp[name]!r:.40}) differs from config.{name}"
    if dict(sp["params"]) != resolved:
        return "segmenter.params.params differ from config.params"
    width = len(enc.columns)
    if seg.n_features_in != width:
        return (f"segmenter.n_features_in is {seg.n_features_in}, but the encoding has "
                f"{width} columns")
    X, labels, classes = seg.reference_X, seg.reference_labels, seg.classes
    if X.ndim != 2 or X.shape[1] != width or len(X) < 1:
        return f"arrays.npz: reference_X has shape {X.shape}, not (rows, {width})"
    if len(labels) != len(X):
        return (f"arrays.npz: {len(labels):,} reference_labels for {len(X):,} reference "
                "customers")
    if not np.isfinite(X).all():
        return "arrays.npz: reference_X holds non-finite values"
    if len(X) > seg.n_fit_rows:
        return "arrays.npz: more reference customers than segmenter.n_fit_rows"
    ids = [s.id for s in model.segments]
    if len(set(ids)) != len(ids):
        return "segments repeat an id"
    if len(classes) and (np.any(np.diff(classes) <= 0)):
        return "arrays.npz: classes are not sorted and distinct"
    if not set(classes.tolist()) <= set(ids):
        return "arrays.npz: classes name segments the model does not have"
    if not np.isin(labels, classes).all():
        return "arrays.npz: reference_labels name segments the model does not have"
    names = [s.name for s in model.segments]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        return f"two segments share the name {twice!r:.80}; segment names are unique"
    base, quality = model.base, model.quality
    for f in config.features:
        if any(v.get(f) is None for v in (base.means, base.stds, base.mins, base.maxs)):
            return f"base statistics of the clustered feature {f} are missing"
        for s in model.segments:
            if s.id == RETURNS_ONLY:
                continue  # its recency is undefined: no purchase
            if any(v.get(f) is None for v in (s.means, s.mins, s.maxs, s.z)) \
                    or f not in s.levels:
                return f"segment {s.id} has no statistics or level for the clustered feature {f}"
    problem = _categories_problem(model)
    if problem:
        return problem
    problem = _returns_only_problem(model)
    if problem:
        return problem
    if model.log is not None:
        problem = log_spec_problem(model.log)
        if problem:
            return f"transactions {problem}"
    if sum(s.size for s in model.segments if s.id != RETURNS_ONLY) != base.n:
        return "the segment sizes do not add up to base.n"
    if quality.n_used != base.n or (quality.n_used + quality.n_invalid + quality.n_returns_only
                                    != quality.n_input):
        return ("quality.n_used, n_invalid, n_returns_only and n_input do not add up (or "
                "n_used differs from base.n)")
    if seg.n_fit_rows > quality.n_used:
        return "segmenter.n_fit_rows is more than the rows used"
    measured = model.metrics.stability
    if measured is not None and not set(measured.per_segment) <= set(ids):
        return "metrics.stability.per_segment names segments the model does not have"
    return _rfm_problem(model, spec)


def _rfm_problem(model: SegmentationModel, spec) -> str | None:
    """An RFM model's scoring against its features, base and segments: each cut point
    within the fitted customers' values and in order, every segment's cells, the
    reference customers in the segments their scores give."""
    rfm = model.rfm
    if rfm is None:
        return "the model's algorithm scores RFM, but the file holds no rfm_scoring block" \
            if spec.scored else None
    if not spec.scored:
        return f"rfm_scoring: the block belongs to RFM models, and this one's algorithm is {spec.name}"
    config = model.config
    for role in spec.scores_roles:
        f = rfm.features[role]
        if f not in config.features or role_of(f, config.spec) != role:
            return f"rfm_scoring.features.{role} is {f!r:.40}, not a feature of role {role}"
        cuts = np.asarray(rfm.cuts[role])
        if not np.isfinite(cuts).all() or np.any(np.diff(cuts) < 0):
            return f"rfm_scoring.cuts.{role} must be four finite cut points that never decrease"
        low, high = model.base.mins.get(f), model.base.maxs.get(f)
        if low is None or high is None or cuts.min() < low or cuts.max() > high:
            return (f"rfm_scoring.cuts.{role} lie outside the fitted customers' values of {f} "
                    f"({low} to {high}); cut points are values some customer had")
    if len(set(config.features)) != len(spec.scores_roles):
        return "an RFM model's features are its recency, frequency and monetary features"
    fitted = [s.id for s in model.segments if s.id != RETURNS_ONLY]  # -2: no scores
    unfitted = [int(u["id"]) for u in rfm.unfitted]
    if set(fitted) & set(unfitted) or len(set(unfitted)) != len(unfitted):
        return "rfm_scoring.unfitted repeats an id, or names a fitted segment"
    names = [s.name.casefold() for s in model.segments] + [
        str(u["name"]).casefold() for u in rfm.unfitted]
    if len(set(names)) != len(names):
        return "rfm_scoring.unfitted repeats the name of another segment"
    if set(rfm.cells) != set(fitted) | set(unfitted):
        return "rfm_scoring.cells must give every segment, fitted or not, at least one cell"
    # the reference customers back in their units (to the rounding of the transform)
    columns = model.encoding.to_original(model.fitted.reference_X)
    values = {f: columns[:, model.config.features.index(f)] for f in rfm.features.values()}
    placed = rfm.segments_of(rfm.score(values))
    off = placed != model.fitted.reference_labels
    if off.any():  # only a customer at a cut point, rounded across it, may differ
        near = np.zeros(int(off.sum()), dtype=bool)
        for role, f in rfm.features.items():
            x = values[f][off][:, None]
            cuts = np.asarray(rfm.cuts[role])[None, :]
            near |= np.isclose(x, cuts, rtol=1e-9, atol=1e-12).any(axis=1)
        off[np.flatnonzero(off)[near]] = False
    if off.any():
        wrong = int(off.sum())
        return (f"rfm_scoring: {wrong:,} reference customers are not in the segment their scores "
                "give by rfm_scoring.cuts and .cells; the cut points or the cells were changed")
    return None


def _returns_only_problem(model: SegmentationModel) -> str | None:
    """The rule that sets the returns only apart, their segment and their count agree:
    a segment -2 exactly when the spec has the rule, of the size the quality counts, its
    frequency feature clustered, and the features it leaves blank clustered too."""
    rule = model.config.spec.returns_only
    apart = [s for s in model.segments if s.id == RETURNS_ONLY]
    if rule is None:
        if apart or model.quality.n_returns_only:
            return ("the model has customers with returns only (segment -2) but "
                    "config.spec.returns_only has no rule that sets them apart")
        return None
    features = model.config.features
    if rule.frequency not in features:
        return (f"config.spec.returns_only.frequency {rule.frequency!r:.80} is not a "
                "clustered feature")
    for name in rule.absent:
        if name not in features or name == rule.frequency:
            return (f"config.spec.returns_only.absent names {name!r:.80}, which is not a "
                    "clustered feature other than the frequency")
    if len(set(rule.absent)) != len(rule.absent):
        return "config.spec.returns_only.absent repeats a feature"
    if len(apart) != (1 if model.quality.n_returns_only else 0):
        return (f"quality.n_returns_only is {model.quality.n_returns_only:,} but the model "
                f"has {len(apart)} segment -2")
    if apart and apart[0].size != model.quality.n_returns_only:
        return (f"segment -2 holds {apart[0].size:,} customers, but quality.n_returns_only "
                f"is {model.quality.n_returns_only:,}")
    if apart and set(apart[0].levels) & set(rule.absent):
        return "segment -2 has a level for a feature its customers leave blank"
    return None


def _categories_problem(model: SegmentationModel) -> str | None:
    """The category profiles: over the columns profiled by and the base's values, within
    the bound, and consistent: counts within the segment, shares summing to at most 1,
    each lift the share over everyone's share; medians beside the means."""
    base = model.base.categories
    profile_by = model.config.spec.profile_by
    if len(set(profile_by)) != len(profile_by):
        return "config.spec.profile_by repeats a column"
    for column, shares in base.items():
        if column not in profile_by:
            return (f"base.categories holds {column!r:.80}, which config.spec.profile_by "
                    "does not")
        if sum(shares.values()) > 1 + SHARE_SLACK:
            return f"base.categories' shares of {column!r:.80} add up to more than 1"
    entries = 0
    for s in model.segments:
        if s.medians and set(s.medians) != set(s.means):
            return f"segment {s.id}'s medians are not of the features of its means"
        for column, rows in s.categories.items():
            if column not in base:
                return (f"segment {s.id} is profiled by {column!r:.80}, which "
                        "base.categories does not hold")
            values = [r["value"] for r in rows]
            if len(set(values)) != len(values) or set(values) != set(base[column]):
                return (f"segment {s.id}'s values of {column!r:.80} are not those of "
                        "base.categories")
            problem = _entries_problem(rows, base[column], s.size)
            if problem:
                return f"segment {s.id}'s categories of {column!r:.80}: {problem}"
            entries += len(rows)
    if entries > MAX_ENTRIES:
        return f"the segments hold {entries:,} category entries; a model holds at most " \
               f"{MAX_ENTRIES:,}"
    return None


#: Slack of a sum of shares over 1, and (relative) of a lift against share / base share.
SHARE_SLACK = 1e-9
LIFT_SLACK = 1e-6


def _entries_problem(rows, everyone: Mapping[str, float], size: int) -> str | None:
    """Why one segment's entries of one column disagree with themselves or the base."""
    total = 0.0
    for r in rows:
        value, share, lift, count = r["value"], r.get("share"), r.get("lift"), r.get("count")
        shown_value = f"{str(value)!r:.60}"
        if count is not None and count > size:
            return f"{count:,} customers hold {shown_value}, more than the segment's {size:,}"
        total += share or 0.0
        base_share = everyone[value]
        expected = share / base_share if share is not None and base_share > 0 else None
        if (lift is None) != (expected is None) or (
                expected is not None and abs(lift - expected) > LIFT_SLACK * max(expected, 1e-300)):
            return (f"the lift of {shown_value} ({lift!r:.20}) is not its share over "
                    f"everyone's share ({expected!r:.20})")
    if total > 1 + SHARE_SLACK:
        return "the shares add up to more than 1"
    return None


def _categorical_problem(model: SegmentationModel) -> str | None:
    """The categorical features of the spec, of the encoding and of the segmenter agree."""
    config, enc = model.config, model.encoding
    if tuple(enc.categorical_names) != tuple(config.categorical):
        return "encoding.categorical differ from the categorical features of config.spec"
    for name, categories in enc.categorical:
        if list(categories) != sorted(set(categories)):
            return f"encoding.categorical[{name!r:.80}] categories are not sorted and distinct"
        if tuple(config.spec.get(name).categories) != tuple(categories):
            return f"config.spec's categories of {name!r:.80} differ from the encoding's"
    if sum(len(c) for _, c in enc.categorical) > MAX_CATEGORY_COLUMNS:
        return f"the categorical features have more than {MAX_CATEGORY_COLUMNS} categories"
    spec = get_algorithm(config.algorithm)
    blocks = tuple(model.fitted.params.get("categorical_blocks") or ())
    if blocks != (enc.blocks if spec.mixed else ()):
        return (f"segmenter.params.categorical_blocks ({list(blocks)!r:.80}) disagree with "
                "the encoding's one-hot blocks")
    return None


def _spec_problem(config) -> str | None:
    """The input spec's features agree with the features and can be computed."""
    from custseg.table.derive import DeriveError, Glob, columns_used, parse_expression
    from custseg.table.fields import NUMERIC_FIELDS

    for f in config.spec.extra:
        if f.categorical:
            if f.source != "column" or f.column is None or f.expr is not None:
                return f"config.spec: the categorical feature {f.name!r:.80} needs a column, no expr"
            if f.encoding != "onehot" or f.range is not None or f.min_value is not None \
                    or f.unit:
                return (f"config.spec: the categorical feature {f.name!r:.80} is one-hot "
                        "encoded, with no range, smallest value or unit")
            if f.name in config.features or f.name in NUMERIC_FIELDS or f.name == "gender":
                return f"config.spec: the categorical feature {f.name!r:.80} is also numeric"
            continue
        if f.kind != "numeric" or f.categories or f.encoding is not None:
            return f"config.spec: the numeric feature {f.name!r:.80} has categories"
        if f.name not in config.features:
            return f"config.spec defines {f.name!r:.80}, which is not a clustered feature"
        if f.source == "column":
            if f.column is None or f.expr is not None:
                return f"config.spec: the column feature {f.name!r:.80} needs a column, no expr"
            if f.name in NUMERIC_FIELDS:
                return f"config.spec: the column feature {f.name!r:.80} has a field's name"
        else:
            if f.expr is None or f.column is not None:
                return f"config.spec: the derived feature {f.name!r:.80} needs an expr, no column"
            try:
                tree = parse_expression(f.expr)
            except DeriveError as exc:
                return f"config.spec: the derivation of {f.name!r:.80}: {exc.message}"
            if any(isinstance(n, Glob) for n in _nodes(tree)):
                return f"config.spec: the derivation of {f.name!r:.80} holds a pattern"
            columns_used(tree, ())
        if f.range is not None and not (np.isfinite(f.range).all() and f.range[0] < f.range[1]):
            return f"config.spec: the range of {f.name!r:.80} is not low < high"
    from custseg.table.derive import date_columns
    from custseg.table.spec import date_format_from_text

    read = {h for f in config.spec.extra if f.source == "derived" and f.expr
            for h in date_columns(parse_expression(f.expr))}
    for header, text in config.spec.date_formats.items():
        if header not in read:
            return f"config.spec.date_formats names {header!r:.80}, which no derivation reads"
        try:
            date_format_from_text(text)
        except CustsegError as exc:
            return f"config.spec.date_formats[{header!r:.80}]: {exc.message}"
    missing = sorted(read - set(config.spec.date_formats))
    if missing:
        return f"config.spec.date_formats has no format for the date column {missing[0]!r:.80}"
    if config.spec.as_of is not None:
        import datetime

        try:
            datetime.date.fromisoformat(config.spec.as_of)
        except ValueError:
            return "config.spec.as_of is not a date"
    return None


def _nodes(tree):
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(getattr(node, "args", ()))
        for attr in ("operand", "left", "right"):
            child = getattr(node, attr, None)
            if child is not None:
                stack.append(child)
