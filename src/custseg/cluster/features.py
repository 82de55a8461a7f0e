"""Which columns feed the distance, and how they are put on one scale.

Numeric features are standardised (z-scores against the fitting customers) so that a
year of age and a k$ of income do not weigh by their units. Gender is off by default:
under Euclidean distance a binary column is a wall between two halves of the data. A
standardised 0/1 column puts men and women two standard deviations apart, more than most
behavioural differences, so K-Means splits segments by gender first. When it is switched
on, gender is one-hot encoded as plain 0/1 columns (not standardised): a Male/Female
difference is √2 ≈ 1.4 standard deviations, and a rare category is not blown up by a
tiny standard deviation.

Categorical features (``--categorical``: Education, Geography…) are encoded the same way,
one plain 0/1 column per category seen at fit (weight :data:`CATEGORY_WEIGHT`, 1). So two
customers whose category differs are √2 apart on that feature, which is the root-mean-
square distance between two customers on one standardised numeric feature (the variance
of a z-score is 1, so the mean squared difference of two customers is 2): a change of
category weighs as much as a typical difference on one numeric feature, however many
categories the feature has, and a rare category is never blown up. Over all customers, a
categorical feature adds ``1 - Σ p²`` to the total variance (p: each category's share),
at most a numeric feature's 1; a feature where nearly everyone shares one category adds
little, as it should.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from custseg.errors import ParameterError, shown
from custseg.table.fields import AGE, GENDER, INCOME, NUMERIC_FIELDS, SCORE
from custseg.table.magnitude import mean_std
from custseg.table.spec import MAX_CATEGORIES, MAX_FEATURES, apply_transform, invert_transform

DEFAULT_FEATURES: tuple[str, ...] = (AGE, INCOME, SCORE)
GENDER_WEIGHT = 1.0
#: Each one-hot column of a categorical feature (see the module's note).
CATEGORY_WEIGHT = 1.0
#: Most one-hot columns all the categorical features of a model take together: the
#: reference customers are stored as a matrix of that width.
MAX_CATEGORY_COLUMNS = 500
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
    #: Categorical features, each with the categories seen at fit (sorted): one 0/1
    #: column per category, after the numeric and gender columns.
    categorical: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def transform_of(self, i: int) -> str:
        return self.transforms[i] if self.transforms else "none"

    @property
    def use_gender(self) -> bool:
        return bool(self.gender_categories)

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the matrix columns, in order."""
        return self.features + tuple(f"gender={c}" for c in self.gender_categories) + tuple(
            f"{name}={c}" for name, cats in self.categorical for c in cats)

    @property
    def categorical_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.categorical)

    @property
    def blocks(self) -> tuple[int, ...]:
        """Widths of the one-hot blocks that end the matrix (gender, then each
        categorical feature): an algorithm for mixed data reads them as categories."""
        gender = (len(self.gender_categories),) if self.use_gender else ()
        return gender + tuple(len(cats) for _, cats in self.categorical)

    @property
    def needs(self) -> tuple[str, ...]:
        """Canonical fields a row must have to be placed."""
        return self.features + ((GENDER,) if self.use_gender else ()) + self.categorical_names

    def transform(self, values: pd.DataFrame) -> np.ndarray:
        """Matrix for the rows of ``values`` (all must be valid for :attr:`needs`)."""
        numeric = _transformed(values.loc[:, list(self.features)].to_numpy(dtype="float64"),
                               self.transforms)
        with np.errstate(over="ignore"):
            numeric = (numeric - np.asarray(self.means)) / np.asarray(self.scales)
        # a valid 1e308 over a scale of 0.001 is past float64: kept at the edge, so that
        # the row is placed (far out, atypical) rather than refused as infinite
        np.clip(numeric, -_EDGE, _EDGE, out=numeric)
        if not self.use_gender and not self.categorical:
            return np.ascontiguousarray(numeric)
        parts = [numeric]
        if self.use_gender:
            parts.append(_onehot(values[GENDER], self.gender_categories, GENDER_WEIGHT))
        for name, cats in self.categorical:
            parts.append(_onehot(values[name], cats, CATEGORY_WEIGHT))
        return np.hstack(parts)

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
            "categorical": [{"name": name, "categories": list(cats)}
                            for name, cats in self.categorical],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence]) -> FeatureEncoding:
        return cls(
            features=tuple(str(f) for f in data["features"]),
            means=tuple(float(m) for m in data["means"]),
            scales=tuple(float(s) for s in data["scales"]),
            gender_categories=tuple(str(c) for c in data["gender_categories"]),
            transforms=_kept(_one_per_feature(data)),
            categorical=tuple((str(c["name"]), tuple(str(v) for v in c["categories"]))
                              for c in data.get("categorical", ())),
        )


#: The largest standardised value kept (float64's largest is about 1.8e308).
_EDGE = 1e300


def _onehot(cells: pd.Series, categories: Sequence[str], weight: float) -> np.ndarray:
    """One 0/1 column (times ``weight``) per category, in order; vectorised through the
    categories' codes rather than one comparison per category."""
    codes = pd.Categorical(cells.to_numpy(dtype=object), categories=list(categories)).codes
    out = np.zeros((len(codes), len(categories)))
    seen = codes >= 0
    out[np.flatnonzero(seen), codes[seen]] = weight
    return out


def _transformed(numeric: np.ndarray, transforms: Sequence[str]) -> np.ndarray:
    if not any(t != "none" for t in transforms):
        return numeric
    return np.column_stack([apply_transform(numeric[:, i], t)
                            for i, t in enumerate(transforms)])


def fit_encoding(
    values: pd.DataFrame, features: Sequence[str], use_gender: bool = False,
    transforms: Sequence[str] | None = None, categorical: Sequence[str] = (),
) -> FeatureEncoding:
    """Learn means, scales and gender categories from the fitting customers (of the
    values transformed by ``transforms``, one per feature, ``none`` by default), and the
    categories of each ``categorical`` feature (at most :data:`MAX_CATEGORIES`)."""
    chosen = tuple(transforms) if transforms is not None else ("none",) * len(features)
    numeric = _transformed(values.loc[:, list(features)].to_numpy(dtype="float64"), chosen)
    means, scales = mean_std(numeric)  # finite for valid values of 1e308
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
    found_categories = tuple((name, fit_categories(values[name], name)) for name in categorical)
    width = sum(len(c) for _, c in found_categories)
    if width > MAX_CATEGORY_COLUMNS:
        raise ParameterError(
            f"the categorical features have {width:,} categories together, more than the "
            f"{MAX_CATEGORY_COLUMNS} a model clusters on; group values into fewer "
            "categories, or choose fewer categorical columns", parameter="categorical")
    return FeatureEncoding(
        categorical=found_categories,
        features=tuple(features),
        means=tuple(float(m) for m in means),
        scales=tuple(float(s) for s in scales),
        gender_categories=categories,
        transforms=_kept(chosen),
    )


def fit_categories(cells: pd.Series, name: str) -> tuple[str, ...]:
    """The categories of a categorical feature among the fitting customers, sorted;
    refused over :data:`MAX_CATEGORIES`, or when every customer has the same one."""
    found = pd.unique(cells.dropna().to_numpy(dtype=object))
    if len(found) > MAX_CATEGORIES:
        examples = ", ".join(shown(v, 20) for v in found[:3])
        raise ParameterError(
            f"the categorical feature {shown(name)} has {len(found):,} different values "
            f"({examples}, …), more than the {MAX_CATEGORIES} a model clusters on (each "
            "is a column of the distance); group its values into fewer categories in the "
            "table, or choose another column", parameter="categorical", key=name)
    if len(found) == 1:
        raise ParameterError(
            f"the categorical feature {shown(name)} has the same value ({shown(found[0])}) "
            "for every customer fitted, so it cannot separate segments; leave it out",
            parameter="categorical", key=name)
    return tuple(sorted(str(v) for v in found))


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

