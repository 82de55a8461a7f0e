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

DEFAULT_FEATURES: tuple[str, ...] = (AGE, INCOME, SCORE)
GENDER_WEIGHT = 1.0
#: Most gender answers one-hot encoded: each is a column of the clustering space, so a
#: column of ids or free text taken for gender would make the matrix rows × rows.
MAX_GENDER_CATEGORIES = 12


def check_features(features: Iterable[str] | str | None) -> tuple[str, ...]:
    """Validate a feature list (or a comma-separated string); default when None.

    ``gender`` is not accepted here: it is switched on with ``use_gender``.
    """
    if features is None:
        return DEFAULT_FEATURES
    if isinstance(features, str):
        features = [f.strip() for f in features.split(",") if f.strip()]
    chosen = tuple(features)
    if not chosen:
        raise ParameterError(
            f"choose at least one feature to cluster on: {', '.join(NUMERIC_FIELDS)}."
        )
    for name in chosen:
        if name == GENDER:
            raise ParameterError(
                "gender is not a distance feature by itself; switched on, it is one-hot "
                "encoded beside the numeric features",
                parameter="use_gender",
            )
        if name not in NUMERIC_FIELDS:
            raise ParameterError(
                f"unknown feature {shown(name)}; choose from {', '.join(NUMERIC_FIELDS)}."
            )
    if len(set(chosen)) != len(chosen):
        raise ParameterError(f"feature list {list(chosen)} names a feature twice.")
    return tuple(f for f in NUMERIC_FIELDS if f in chosen)


@dataclass(frozen=True)
class FeatureEncoding:
    """A fitted mapping from canonical values to the clustering space."""

    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    gender_categories: tuple[str, ...] = ()

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
        numeric = values.loc[:, list(self.features)].to_numpy(dtype="float64")
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
        return matrix[:, :k] * np.asarray(self.scales) + np.asarray(self.means)

    def to_dict(self) -> dict[str, object]:
        return {
            "features": list(self.features),
            "means": list(self.means),
            "scales": list(self.scales),
            "gender_categories": list(self.gender_categories),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence]) -> FeatureEncoding:
        return cls(
            features=tuple(str(f) for f in data["features"]),
            means=tuple(float(m) for m in data["means"]),
            scales=tuple(float(s) for s in data["scales"]),
            gender_categories=tuple(str(c) for c in data["gender_categories"]),
        )


def fit_encoding(
    values: pd.DataFrame, features: Sequence[str], use_gender: bool = False
) -> FeatureEncoding:
    """Learn means, scales and gender categories from the fitting customers."""
    numeric = values.loc[:, list(features)].to_numpy(dtype="float64")
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
    )

