"""Which columns feed the distance, and how they are put on one scale.

Numeric features are standardised (z-scores against the fitting customers) so that a
year of age and a k$ of income do not weigh by their units. Gender is off by default:
under Euclidean distance a binary column is a wall between two halves of the data. A
standardised 0/1 column puts men and women two standard deviations apart, more than most
behavioural differences, so K-Means splits segments by gender first. When it is switched
on, gender is one-hot encoded as plain 0/1 columns (not standardised): a Male/Female
difference is √2 ≈ 1.4 standard deviations, and a rare category is not blown up by a
tiny standard deviation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from custseg.errors import ParameterError, shown
from custseg.table.fields import AGE, GENDER, INCOME, NUMERIC_FIELDS, SCORE
from custseg.table.spec import MAX_FEATURES, apply_transform, invert_transform

DEFAULT_FEATURES: tuple[str, ...] = (AGE, INCOME, SCORE)
GENDER_WEIGHT = 1.0
#: Most gender answers one-hot encoded: each is a column of the clustering space, so a
#: column of ids or free text taken for gender would make the matrix rows × rows.
MAX_GENDER_CATEGORIES = 12


def check_features(features: Iterable[str] | str | None,
                   extra: Sequence[str] = ()) -> tuple[str, ...]:
    """Validate a feature list (or a comma-separated string); default when None.

    The well-known numeric fields come first, in their order; then the model's other
    features (``extra``, defined by its input spec), in the order given. ``gender`` is not
    accepted here: it is switched on with ``use_gender``.
    """
    if features is None:
        return DEFAULT_FEATURES
    if isinstance(features, str):
        features = [f.strip() for f in features.split(",") if f.strip()]
    chosen = tuple(features)
    known = (*NUMERIC_FIELDS, *[e for e in extra if e not in NUMERIC_FIELDS])
    if not chosen:
        raise ParameterError(f"choose at least one feature to cluster on: {', '.join(known)}.")
    for name in chosen:
        if name == GENDER:
            raise ParameterError(
                "gender is not a distance feature by itself; switched on, it is one-hot "
                "encoded beside the numeric features",
                parameter="use_gender",
            )
        if name not in known:
            raise ParameterError(
                f"unknown feature {shown(name)}; choose from {', '.join(known)}."
            )
    if len(set(chosen)) != len(chosen):
        raise ParameterError(f"feature list {list(chosen)} names a feature twice.")
    if len(chosen) > MAX_FEATURES:
        raise ParameterError(f"{len(chosen)} features is more than the {MAX_FEATURES} a model "
                             "clusters on; choose fewer.")
    return tuple(f for f in NUMERIC_FIELDS if f in chosen) + tuple(
        f for f in chosen if f not in NUMERIC_FIELDS)


@dataclass(frozen=True)
class FeatureEncoding:
    """A fitted mapping from canonical values to the clustering space."""

    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    gender_categories: tuple[str, ...] = ()
    #: Per feature, applied before scaling (see custseg.table.spec.apply_transform); the
    #: means and scales are those of the transformed values.
    transforms: tuple[str, ...] = ()

    def transform_of(self, i: int) -> str:
        return self.transforms[i] if self.transforms else "none"

    @property
    def use_gender(self) -> bool:
        return bool(self.gender_categories)

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the matrix columns, in order."""
        return self.features + tuple(f"gender={c}" for c in self.gender_categories)

    @property
    def needs(self) -> tuple[str, ...]:
        """Canonical fields a row must have to be placed."""
        return self.features + ((GENDER,) if self.use_gender else ())

    def transform(self, values: pd.DataFrame) -> np.ndarray:
        """Matrix for the rows of ``values`` (all must be valid for :attr:`needs`)."""
        numeric = _transformed(values.loc[:, list(self.features)].to_numpy(dtype="float64"),
                               self.transforms)
        numeric = (numeric - np.asarray(self.means)) / np.asarray(self.scales)
        if not self.use_gender:
            return np.ascontiguousarray(numeric)
        gender = values[GENDER].to_numpy(dtype=object)
        onehot = np.stack(
            [(gender == c).astype("float64") * GENDER_WEIGHT for c in self.gender_categories],
            axis=1,
        )
        return np.hstack([numeric, onehot])

    def to_original(self, matrix: np.ndarray) -> np.ndarray:
        """Numeric columns of a clustering-space matrix back in their own units."""
        k = len(self.features)
        scaled = matrix[:, :k] * np.asarray(self.scales) + np.asarray(self.means)
        if not any(t != "none" for t in self.transforms):
            return scaled
        return np.column_stack([invert_transform(scaled[:, i], self.transform_of(i))
                                for i in range(k)])

    def to_dict(self) -> dict[str, object]:
        return {
            "features": list(self.features),
            "means": list(self.means),
            "scales": list(self.scales),
            "gender_categories": list(self.gender_categories),
            "transforms": [self.transform_of(i) for i in range(len(self.features))],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence]) -> FeatureEncoding:
        return cls(
            features=tuple(str(f) for f in data["features"]),
            means=tuple(float(m) for m in data["means"]),
            scales=tuple(float(s) for s in data["scales"]),
            gender_categories=tuple(str(c) for c in data["gender_categories"]),
            transforms=_kept(_one_per_feature(data)),
        )


def _transformed(numeric: np.ndarray, transforms: Sequence[str]) -> np.ndarray:
    if not any(t != "none" for t in transforms):
        return numeric
    return np.column_stack([apply_transform(numeric[:, i], t)
                            for i, t in enumerate(transforms)])


def fit_encoding(
    values: pd.DataFrame, features: Sequence[str], use_gender: bool = False,
    transforms: Sequence[str] | None = None,
) -> FeatureEncoding:
    """Learn means, scales and gender categories from the fitting customers (of the
    values transformed by ``transforms``, one per feature, ``none`` by default)."""
    chosen = tuple(transforms) if transforms is not None else ("none",) * len(features)
    numeric = _transformed(values.loc[:, list(features)].to_numpy(dtype="float64"), chosen)
    means = numeric.mean(axis=0)
    scales = numeric.std(axis=0)
    # A constant feature carries no information; scale 1 keeps it harmless.
    scales = np.where(scales > 0, scales, 1.0)
    categories: tuple[str, ...] = ()
    if use_gender:
        if GENDER not in values.columns:
            raise ParameterError(
                "clustering on gender needs a gender column, and this table has none",
                parameter="use_gender",
            )
        found = pd.unique(values[GENDER].dropna())
        if len(found) > MAX_GENDER_CATEGORIES:
            examples = ", ".join(shown(v, 20) for v in found[:3])
            raise ParameterError(
                f"the gender column holds {len(found):,} different answers ({examples}, …); "
                f"clustering on gender encodes each as a column, so at most "
                f"{MAX_GENDER_CATEGORIES} are accepted. Check that the right column is taken "
                "for gender, or fit without gender",
                parameter="mapping", key=GENDER,
            )
        categories = tuple(sorted(found.tolist()))
    return FeatureEncoding(
        features=tuple(features),
        means=tuple(float(m) for m in means),
        scales=tuple(float(s) for s in scales),
        gender_categories=categories,
        transforms=_kept(chosen),
    )


def _one_per_feature(data: Mapping[str, Sequence]) -> tuple[str, ...]:
    """A model file's transforms: exactly one per feature (a short list would read the
    reference customers, fitted on a log scale, as if they were not)."""
    transforms = tuple(str(t) for t in data["transforms"])
    if len(transforms) != len(data["features"]):
        raise ValueError(f"encoding.transforms has {len(transforms)} transforms for "
                         f"{len(data['features'])} features")
    return transforms


def _kept(transforms: tuple[str, ...]) -> tuple[str, ...]:
    """No transform at all is ``()``, as a model of the well-known fields always had."""
    return transforms if any(t != "none" for t in transforms) else ()

