"""The whole pipeline as one object: validation rules, encoding, segmenter, profiles.

:func:`fit_model` turns a table into a :class:`SegmentationModel`; the model assigns
new customers, describes its segments, and turns into plain data (:meth:`state`) for
the safe model file written by :mod:`custseg.io.model_files`.

A model read back from its state assigns with plain objects (numpy and scipy): scoring
never loads scikit-learn, which only fitting and explaining need.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from custseg.cluster.algorithms import get_algorithm
from custseg.cluster.assignment import Assignment, AssignmentMemo, FittedSegmenter, map_ids
from custseg.cluster.evaluate import QualityMetrics, quality_metrics
from custseg.cluster.features import FeatureEncoding, check_features, fit_encoding
from custseg.cluster.labels import RETURNS_ONLY, outliers_last
from custseg.cluster.rfm import RFMScoring, quintile_cuts
from custseg.cluster.stability import Stability, stability
from custseg.errors import CustsegError, NotEnoughDataError, ParameterError, shown
from custseg.segments.profile import (
    BaseStats,
    Rulebook,
    ScoreSegment,
    SegmentProfile,
    profile_segments,
    returns_only_profile,
)
from custseg.table.fields import GENDER, Ranges
from custseg.table.spec import TRANSFORMS, InputSpec, auto_transform, role_of, unit_of
from custseg.table.text import RULE_NAME_MAX, TEXT_MAX, text_problem
from custseg.table.transactions import LogSpec
from custseg.table.validate import Validated, validate

if TYPE_CHECKING:
    from custseg.cluster.segmenter import Segmenter


@dataclass(frozen=True)
class ModelConfig:
    """Everything the user chooses for a fit."""

    algorithm: str = "kmeans"
    params: Mapping[str, Any] = field(default_factory=dict)
    features: tuple[str, ...] = ("age", "annual_income", "spending_score")
    use_gender: bool = False
    n_neighbors: int = 3
    sample_size: int | str | None = None
    reference_size: int = 50_000
    random_state: int = 0
    ranges: Ranges = field(default_factory=Ranges)
    #: Subsample refits for the stability metric (0 skips it, as the live dashboard does).
    stability_resamples: int = 10
    #: The features besides the well-known fields, and how to find them in a table.
    spec: InputSpec = field(default_factory=InputSpec)
    #: Feature -> "auto" (the default: a log for skewed values), "none", "log1p" or
    #: "signed_log1p"; what was applied is the encoding's.
    transforms: Mapping[str, str] = field(default_factory=dict)

    def resolved(self) -> ModelConfig:
        """The same config with features checked and every parameter filled in."""
        from custseg.cluster.algorithms import check_fit_settings  # the bounds all faces share

        check_fit_settings(n_neighbors=self.n_neighbors, sample_size=self.sample_size,
                           random_state=self.random_state, reference_size=self.reference_size)
        spec = get_algorithm(self.algorithm)
        features = check_features(self.features, self.spec.numeric_names)
        unknown = sorted(set(self.transforms) - set(features))
        if unknown:
            raise ParameterError(f"a transform is given for {shown(unknown[0])}, which is not "
                                 f"a feature of this fit ({', '.join(features)}).",
                                 parameter="transforms")
        for name, how in self.transforms.items():
            if how not in ("auto", *TRANSFORMS):
                raise ParameterError(
                    f"transform {shown(how)} for {shown(name)} is not one of auto, "
                    f"{', '.join(TRANSFORMS)}.", parameter="transforms")
        return replace(
            self,
            params=spec.resolve(self.params),
            features=features,
            spec=self.spec.without([n for n in self.spec.numeric_names if n not in features]),
        )

    @property
    def categorical(self) -> tuple[str, ...]:
        """The categorical features clustered on (defined by the input spec), in order."""
        return self.spec.categorical_names

    @property
    def needs(self) -> tuple[str, ...]:
        return self.features + ((GENDER,) if self.use_gender else ()) + self.categorical

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "params": dict(self.params),
            "features": list(self.features),
            "use_gender": self.use_gender,
            "n_neighbors": self.n_neighbors,
            "sample_size": self.sample_size,
            "reference_size": self.reference_size,
            "random_state": self.random_state,
            "ranges": self.ranges.to_dict(),
            "stability_resamples": self.stability_resamples,
            "spec": self.spec.to_dict(),
            "transforms": dict(self.transforms),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        values = dict(data)
        values["features"] = tuple(values["features"])
        values["ranges"] = Ranges.from_dict(values["ranges"])
        values["spec"] = InputSpec.from_dict(values.get("spec"))
        values["transforms"] = dict(values.get("transforms", {}))
        return cls(**values)


@dataclass(frozen=True)
class DataQuality:
    """What happened to the input rows of a fit."""

    n_input: int
    n_used: int
    n_invalid: int
    reasons: Mapping[str, int]
    n_duplicate_rows: int = 0
    #: Rows set apart in the segment "Returns only" (not clustered, not invalid): ``n_input
    #: = n_used + n_invalid + n_returns_only``.
    n_returns_only: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_input": self.n_input,
            "n_used": self.n_used,
            "n_invalid": self.n_invalid,
            "reasons": dict(self.reasons),
            "n_duplicate_rows": self.n_duplicate_rows,
            **({"n_returns_only": self.n_returns_only} if self.n_returns_only else {}),
        }

    @classmethod
    def from_validated(cls, validated: Validated) -> DataQuality:
        return cls(
            n_input=validated.n_rows,
            n_used=validated.n_rows - validated.n_invalid - validated.n_apart,
            n_invalid=validated.n_invalid,
            reasons=dict(validated.reasons),
            n_duplicate_rows=int(validated.notes.get("duplicate customer_id", 0)),
            n_returns_only=validated.n_apart,
        )


@dataclass(frozen=True)
class ModelMetrics:
    """The quality of a fit, and its stability when it was measured."""

    quality: QualityMetrics
    stability: Stability | None = None

    def to_dict(self) -> dict[str, Any]:
        """The quality metrics, then ``stability`` when measured (the model file's and
        ``fit --json``'s ``metrics``)."""
        out = self.quality.to_dict()
        if self.stability is not None:
            out["stability"] = self.stability.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelMetrics:
        measured = data.get("stability")
        return cls(QualityMetrics.from_dict(data),
                   None if measured is None else Stability.from_dict(measured))


@dataclass(frozen=True)
class SegmentationModel:
    """A fitted segmentation: assign customers, read segments, save as plain data."""

    config: ModelConfig
    encoding: FeatureEncoding
    #: The fitted segmenter as plain data: the reference set and its vote.
    fitted: FittedSegmenter
    base: BaseStats
    segments: tuple[SegmentProfile, ...]
    metrics: ModelMetrics
    quality: DataQuality
    rulebook: Rulebook
    warnings: tuple[str, ...] = ()
    #: An RFM model's cut points and cell map (``--algorithm rfm``); None otherwise.
    rfm: RFMScoring | None = None
    #: Labels of the fitted (valid) rows, in order; only on a freshly fitted model.
    labels: np.ndarray | None = None
    #: The scikit-learn Segmenter of a fresh fit; a model read back builds it on first use
    #: of :attr:`segmenter`.
    estimator: Segmenter | None = field(default=None, repr=False, compare=False)
    #: How the customers were aggregated from a transaction log (``fit --transactions``),
    #: so that scoring a new log aggregates it the same way; None for a customer table.
    log: LogSpec | None = None

    @property
    def segmenter(self) -> Segmenter:
        """The scikit-learn estimator underneath (assigning does not need it)."""
        if self.estimator is None:
            from custseg.cluster.segmenter import Segmenter

            object.__setattr__(self, "estimator", Segmenter.from_fitted(self.fitted))
        return self.estimator

    @property
    def names(self) -> dict[int, str]:
        """Segment id -> name; with the rule that sets the returns only apart, -2 too,
        named by the rulebook when no customer of the fit had returns only."""
        out = {s.id: s.name for s in self.segments}
        if self.config.spec.returns_only is not None and RETURNS_ONLY not in out:
            out[RETURNS_ONLY] = str((self.rulebook.returns_only or {}).get(
                "name", "Returns only"))
        return out

    @property
    def assignable_names(self) -> dict[int, str]:
        """Every segment a customer can be assigned to: the fitted ones and, for an RFM
        model, the segments of its score map no fitted customer fell in."""
        extra = {} if self.rfm is None else {int(u["id"]): str(u["name"])
                                               for u in self.rfm.unfitted}
        return {**self.names, **extra}

    def unfitted_segment(self, segment_id: int) -> Mapping[str, Any] | None:
        """An RFM model's map segment ``{"id", "name", "description", "strategy"}`` that
        no fitted customer fell in, or None (a fitted segment, or not an RFM model)."""
        if self.rfm is None:
            return None
        return next((u for u in self.rfm.unfitted if int(u["id"]) == int(segment_id)), None)

    def rfm_scores(self, values: pd.DataFrame) -> np.ndarray:
        """An RFM model's (rows, 3) scores of valid rows (canonical, typed values)."""
        if self.rfm is None:
            raise ValueError("only an RFM model (--algorithm rfm) scores customers 1-5")
        return self.rfm.score({f: values[f].to_numpy(dtype="float64")
                               for f in self.rfm.features.values()})

    def segment(self, segment_id: int) -> SegmentProfile:
        """The profile of ``segment_id``; for the returns only of a fit that had none (a
        new customer placed there at score), an empty profile with the rulebook's words."""
        for s in self.segments:
            if s.id == segment_id:
                return s
        if segment_id == RETURNS_ONLY and self.config.spec.returns_only is not None:
            words = self.rulebook.returns_only or {}
            return SegmentProfile(
                id=RETURNS_ONLY, name=self.names[RETURNS_ONLY], size=0, share=0.0, means={},
                mins={}, maxs={}, z={}, levels={}, gender_mix={},
                description=str(words.get("description", "")),
                strategy=str(words.get("strategy", "")), facts=())
        raise KeyError(segment_id)

    def assign(self, values: pd.DataFrame, memo: AssignmentMemo | None = None) -> Assignment:
        """Assign valid rows (canonical, typed values) to segments.

        An RFM model's segment is its score map applied to the row's scores, always; the
        neighbours only say how many of the nearest known customers share it (the
        confidence) and whether the customer is far from all of them (atypical).
        """
        X = self.encoding.transform(values)
        if self.rfm is None:
            return self.fitted.assign(X, memo)
        labels = self.rfm.segments_of(self.rfm_scores(values))
        vote = self.fitted.vote
        if not len(X):
            return Assignment(labels, np.zeros(0), np.zeros(0, dtype=bool), np.zeros(0))
        distance, ind = vote.query(np.ascontiguousarray(X, dtype=np.float64))
        confidence = np.mean(np.asarray(vote.labels)[ind] == labels[:, None], axis=1)
        nearest = distance[:, 0]
        return Assignment(labels, confidence, nearest > vote.atypical_threshold, nearest)

    def relabelled(
        self, mapping: Mapping[int, int], segments: tuple[SegmentProfile, ...] | list
    ) -> SegmentationModel:
        """This model with segment ids renamed by ``mapping`` and the given profiles."""
        measured = self.metrics.stability
        metrics = (self.metrics if measured is None
                   else replace(self.metrics, stability=measured.relabelled(mapping)))
        labels = None if self.labels is None else map_ids(self.labels, mapping)
        ordered = tuple(sorted(segments, key=lambda s: outliers_last(s.id)))
        rfm = self.rfm
        if rfm is not None:  # the cells follow their segments; empty ones take free ids
            ids = {s.id: int(mapping.get(s.id, s.id)) for s in self.segments}
            free = max(ids.values(), default=-1) + 1
            for u in rfm.unfitted:
                ids[int(u["id"])], free = free, free + 1
            rfm = replace(rfm, cells=tuple(ids[c] for c in rfm.cells),
                          unfitted=tuple({**u, "id": ids[int(u["id"])]} for u in rfm.unfitted))
        if self.estimator is None:
            fitted, estimator = self.fitted.relabel(mapping), None
        else:
            estimator = self.estimator.relabel(dict(mapping))
            fitted = estimator.to_fitted()
        return replace(self, fitted=fitted, estimator=estimator, segments=ordered,
                       metrics=metrics, labels=labels, rfm=rfm)

    def with_edits(self, edits: Mapping[int, Mapping[str, str]]) -> SegmentationModel:
        """This model with an analyst's names and strategies: ``{id: {"name", "strategy"}}``.

        Names must stay unique and not be blank; the edited segments are marked, and the
        edits travel with the model file.
        """
        segments = []
        for s in self.segments:
            change = edits.get(s.id)
            if not change:
                segments.append(s)
                continue
            name = str(change.get("name", s.name)).strip()
            strategy = str(change.get("strategy", s.strategy)).strip()
            if not name:
                raise CustsegError(f"segment {s.id} needs a name; it cannot be blank.")
            for what, text, limit in (("name", name, RULE_NAME_MAX), ("strategy", strategy, TEXT_MAX)):
                problem = text_problem(text, limit) if text != getattr(s, what) else None
                if problem:
                    raise CustsegError(f"the {what} of segment {s.id} {problem}.")
            edited = name != s.name or strategy != s.strategy or s.edited
            segments.append(replace(s, name=name, strategy=strategy, edited=edited))
        names = [s.name for s in segments]
        clash = sorted({n for n in names if names.count(n) > 1})
        if clash:
            raise CustsegError(
                f"two segments would be called {clash[0]!r}; segment names must be unique."
            )
        return replace(self, segments=tuple(segments))

    def placed_on(self, values: pd.DataFrame, labels: np.ndarray,
                  cells: pd.DataFrame | None = None,
                  returns_only: int = 0) -> SegmentationModel:
        """This model's segments as they hold other customers: ``values`` (valid rows)
        placed in them by :meth:`assign` (``labels``). Sizes, shares, averages and facts
        are those customers'; each segment keeps the model's name, description, strategy
        and rules, so a loaded model shows the same segments over new data, counted as
        its members are. A segment that holds none of them is left out; the returns-only
        segment holds the ``returns_only`` customers set apart from ``values``."""
        base, profiles = profile_segments(values, np.asarray(labels), self.config.features,
                                          self.rulebook, self.config.spec, cells=cells)
        own = {s.id: s for s in self.segments}
        placed = {}
        for p in profiles:
            mine = own.get(p.id) or self.unfitted_segment(p.id)
            if isinstance(mine, SegmentProfile):
                p = replace(p, name=mine.name, description=mine.description,
                            strategy=mine.strategy, rules=mine.rules, edited=mine.edited)
            elif mine is not None:  # an RFM map cell no fitted customer fell in
                p = replace(p, name=str(mine["name"]), description=str(mine["description"]),
                            strategy=str(mine["strategy"]))
            placed[p.id] = p
        order = [s.id for s in self.segments] + sorted(set(placed) - set(own))
        segments = tuple(placed[i] for i in order if i in placed)
        apart = own.get(RETURNS_ONLY)
        if apart is not None and returns_only:
            segments = with_shares_of_all((*segments, replace(apart, size=returns_only)))
        return replace(self, base=base, segments=segments, labels=np.asarray(labels))

    def summary(self) -> dict[str, Any]:
        """The JSON document of ``custseg fit --json`` / ``profile --json``."""
        from custseg.segments.explain import drivers

        return _plain({
            "algorithm": self.config.algorithm,
            "params": dict(self.config.params),
            "features": list(self.config.features),
            "categorical": list(self.config.categorical),
            "use_gender": self.config.use_gender,
            "features_spec": self.features_spec(),
            "n_rows": self.quality.n_used + self.quality.n_returns_only,
            "sample_size": int(self.fitted.n_fit_rows),
            "reference_size": int(len(self.fitted.reference_X)),
            "metrics": self._metrics_document(),
            "data_quality": self.quality.to_dict(),
            "warnings": list(self.warnings),
            "segments": [
                {
                    "id": s.id,
                    "name": s.name,
                    "size": s.size,
                    "share": s.share,
                    "means": dict(s.means),
                    "medians": dict(s.medians),
                    "categories": {c: [{"value": e["value"], "share": e["share"],
                                        "lift": e["lift"], "count": e.get("count")}
                                       for e in rows] for c, rows in _in_order(
                                           s.categories, self.config.spec.profile_by)},
                    "levels": dict(s.levels),
                    "strategy": s.strategy,
                    "description": s.description,
                    "facts": list(s.facts),
                    "gender_mix": dict(s.gender_mix),
                    "rules": [dict(r) for r in s.rules],
                    "drivers": drivers(s, self.base),
                    "edited": s.edited,
                    **({"cells": self.rfm.cells_of(s.id)} if self.rfm is not None else {}),
                }
                for s in self.segments
            ],
            **({"rfm_scoring": self._rfm_document()} if self.rfm is not None else {}),
        })

    def _rfm_document(self) -> dict[str, Any]:
        """An RFM model's cut points per feature, and the segments of its map no fitted
        customer fell in (new customers may)."""
        rfm = self.rfm
        return {
            "features": dict(rfm.features),
            "cuts": {role: list(rfm.cuts[role]) for role in rfm.features},
            "unfitted_segments": [{"id": u["id"], "name": u["name"],
                                   "strategy": u["strategy"], "cells": rfm.cells_of(u["id"])}
                                  for u in rfm.unfitted],
        }

    def features_spec(self) -> list[dict[str, Any]]:
        """Each clustered feature: where it comes from, what it means, its unit and the
        transform applied before scaling."""
        out = []
        for i, name in enumerate(self.config.features):
            extra = self.config.spec.get(name)
            out.append({
                "name": name,
                "source": "field" if extra is None else extra.source,
                "kind": "numeric",
                "role": role_of(name, self.config.spec),
                "unit": unit_of(name, self.config.spec),
                "transform": self.encoding.transform_of(i),
                **({"column": extra.column} if extra is not None and extra.column else {}),
                **({"expr": extra.expr} if extra is not None and extra.expr else {}),
            })
        for name, categories in self.encoding.categorical:
            extra = self.config.spec.get(name)
            out.append({
                "name": name, "source": "column", "kind": "categorical",
                "role": extra.role if extra is not None else "other", "unit": "",
                "transform": "none", "column": extra.column if extra is not None else name,
                "encoding": "onehot", "categories": list(categories),
            })
        return out

    def _metrics_document(self) -> dict[str, Any]:
        """The summary's ``metrics``: quality, stability and the assigner's fidelity.

        A model read from its state (the only kind without labels) lists them in the
        model file's order, keys sorted, as it always has; a fresh fit in measuring order.
        """
        metrics, fidelity = self.metrics.to_dict(), self.fitted.fidelity.to_dict()
        if self.labels is None:
            metrics, fidelity = _sorted(metrics), _sorted(fidelity)
        return {**metrics, "fidelity": fidelity}

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Plain JSON-able values (NaN as None) and numeric arrays: all a model file holds."""
        seg_meta, arrays = self.fitted.state()
        meta = _plain({
            "config": self.config.to_dict(),
            "encoding": self.encoding.to_dict(),
            "segmenter": seg_meta,
            "base": self.base.to_dict(),
            "segments": [s.to_dict() for s in self.segments],
            "metrics": self.metrics.to_dict(),
            "quality": self.quality.to_dict(),
            "rulebook": self.rulebook.to_dict(),
            "warnings": list(self.warnings),
            **({"transactions": self.log.to_dict()} if self.log is not None else {}),
            **({"rfm_scoring": self.rfm.to_dict()} if self.rfm is not None else {}),
        })
        return meta, arrays

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> SegmentationModel:
        return cls(
            config=ModelConfig.from_dict(meta["config"]),
            encoding=FeatureEncoding.from_dict(meta["encoding"]),
            fitted=FittedSegmenter.from_state(meta["segmenter"], dict(arrays)),
            base=BaseStats.from_dict(meta["base"]),
            segments=tuple(SegmentProfile.from_dict(s) for s in meta["segments"]),
            metrics=ModelMetrics.from_dict(meta["metrics"]),
            quality=DataQuality(**meta["quality"]),
            rulebook=Rulebook.from_dict(meta["rulebook"]),
            warnings=tuple(meta.get("warnings", ())),
            log=LogSpec.from_dict(meta.get("transactions")),
            rfm=(None if meta.get("rfm_scoring") is None
                 else RFMScoring.from_dict(meta["rfm_scoring"])),
        )


def fitted_transforms(values: pd.DataFrame, config: ModelConfig) -> list[str]:
    """Each feature's transform: as the config says, or for ``auto`` (the default) a log
    of a skewed feature (see :func:`custseg.table.spec.auto_transform`). ``log1p`` asked
    for a feature with negative values is refused: it would be cut at 0, silently.

    A monetary feature (net value: a customer who returned more than they bought has a
    negative one) takes the signed log where ``auto`` finds a log: on the values fitted
    it is the same as ``log1p``, and a new customer's negative value is then placed, not
    refused."""
    out = []
    for f in config.features:
        x = values[f].to_numpy(dtype="float64")
        how = config.transforms.get(f, "auto")
        if how == "auto":
            how = auto_transform(x)
            if how == "log1p" and role_of(f, config.spec) == "monetary":
                how = "signed_log1p"
        elif how == "log1p" and len(x) and np.nanmin(x) < 0:
            raise ParameterError(
                f"{f} has negative values (the lowest is {np.nanmin(x):g}), and log1p needs "
                "values of 0 or more; use signed_log1p, or none", parameter="transforms")
        out.append(how)
    return out


def _with_domains(spec: InputSpec, features: tuple[str, ...], transforms: list[str]) -> InputSpec:
    """The spec with 0 as the smallest value of each feature the model takes the log of,
    so that scoring flags a negative value rather than cutting it."""
    logged = {f for f, t in zip(features, transforms, strict=True) if t == "log1p"}
    return replace(spec, extra=tuple(
        replace(f, min_value=0.0) if f.name in logged else f for f in spec.extra))


def fit_model(
    frame: pd.DataFrame,
    config: ModelConfig,
    rulebook: Rulebook,
    *,
    decimal: str = ".",
    income_unit: str = "k$",
    validated: Validated | None = None,
    cells: pd.DataFrame | None = None,
) -> SegmentationModel:
    """Validate ``frame`` (canonical columns), fit on its valid rows, and profile.

    Invalid rows are excluded and counted by reason in :attr:`SegmentationModel.quality`;
    nothing is imputed. ``cells`` holds the columns the segments are profiled by (the
    spec's ``profile_by``), as text, a row per row of ``frame``.
    """
    from custseg.cluster.segmenter import Segmenter, plain_warning
    from custseg.segments.explain import segment_rules

    config = config.resolved()
    scored_by = rfm_features(config) if get_algorithm(config.algorithm).scored else None
    if scored_by is not None:
        rulebook.score_cells()  # a rulebook with no score map is refused before any work
    if validated is None:
        validated = validate(
            frame, required=config.needs, ranges=config.ranges, decimal=decimal,
            income_unit=income_unit, spec=config.spec, as_of=config.spec.fit_date,
        )
    values = validated.valid_values()
    quality = DataQuality.from_validated(validated)
    spec = get_algorithm(config.algorithm)
    needed = max(2, int(config.params.get(spec.k_param, 2)) if spec.k_param else 2)
    if len(values) < needed:
        reasons = ", ".join(f"{k}: {v}" for k, v in validated.reasons.most_common(5))
        raise NotEnoughDataError(
            f"only {len(values)} of {validated.n_rows} rows are valid, and fitting needs at "
            f"least {needed}." + (f" Invalid rows: {reasons}." if reasons else "")
        )
    for name in config.spec.numeric_names if scored_by is None else ():
        column = values[name].to_numpy(dtype="float64")
        if len(column) and np.nanmin(column) == np.nanmax(column):
            raise ParameterError(
                f"{name} has the same value ({column[0]:g}) for every customer fitted, so it "
                "cannot separate segments; leave it out of the features",
                parameter="features")
    transforms = fitted_transforms(values, config)
    encoding = fit_encoding(values, config.features, config.use_gender, transforms,
                            config.categorical)
    config = replace(config, spec=_with_domains(config.spec, config.features, transforms)
                     .with_categories(dict(encoding.categorical)))
    X = encoding.transform(values)
    segmenter = Segmenter(
        categorical_blocks=encoding.blocks if spec.mixed else (),
        algorithm=config.algorithm,
        params=dict(config.params),
        n_neighbors=config.n_neighbors,
        sample_size=config.sample_size,
        reference_size=config.reference_size,
        random_state=config.random_state,
    )
    scoring = score_map = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if scored_by is None:
            segmenter.fit(X)
        else:
            scoring, score_map, given = score_segments(values, scored_by, rulebook)
            segmenter.fit_given(X, given)
    said = (plain_warning(str(w.message), spec) for w in caught
            if issubclass(w.category, UserWarning))
    messages = tuple(dict.fromkeys(m for m in said if m))
    lowered = getattr(segmenter, "lowered_", {})
    if lowered:  # the settings used, as the warning says: not the ones asked
        config = replace(config, params={**config.params, **lowered})
    profiled = None
    if cells is not None and len(cells.columns):
        profiled = cells.loc[validated.valid].reset_index(drop=True)
    if spec.mixed and not encoding.blocks:
        messages = (f"{spec.label} was given no categorical feature (nor gender), so it is "
                    "K-Means on the numeric features; name categorical columns to cluster "
                    "on, or choose kmeans", *messages)
    base, segments = profile_segments(values, segmenter.labels_, config.features, rulebook,
                                      config.spec, cells=profiled)
    if score_map is not None:  # named by the score map, not by levels
        segments = tuple(replace(s, name=score_map[s.id].name, strategy=score_map[s.id].strategy,
                                 description=score_map[s.id].description) for s in segments)
    if validated.apart is not None and validated.apart.any():  # a segment of their own
        apart = validated.values.loc[validated.apart].reset_index(drop=True)
        segments = with_shares_of_all(
            (*segments, returns_only_profile(apart, values, base, rulebook, config.spec)))
    left_out = [c for c in (profiled.columns if profiled is not None else ())
                if c not in base.categories]
    if left_out:
        messages = (*messages, "the segments are not profiled by "
                    f"{', '.join(shown(c, 40) for c in left_out[:5])}"
                    + (" …" if len(left_out) > 5 else "") + ": more columns, values or "
                    "segments than a model keeps category shares for")
    rules = segment_rules(values, segmenter.labels_, config.features, seed=config.random_state,
                          spec=config.spec)
    segments = tuple(
        replace(s, rules=tuple(r.to_dict() for r in rules.get(s.id, ()))) for s in segments
    )
    scores = quality_metrics(X, segmenter.labels_, seed=config.random_state)
    measured = None
    if config.stability_resamples > 0 and scored_by is None:
        measured = stability(
            X, segmenter.labels_, config.algorithm, config.params,
            fitted_rows=segmenter.n_fit_rows_, resamples=config.stability_resamples,
            seed=config.random_state, blocks=segmenter.categorical_blocks,
        )
    return SegmentationModel(
        config=config,
        encoding=encoding,
        fitted=segmenter.to_fitted(),
        base=base,
        segments=segments,
        metrics=ModelMetrics(scores, measured),
        quality=quality,
        rulebook=rulebook,
        warnings=messages,
        rfm=scoring,
        labels=segmenter.labels_,
        estimator=segmenter,
    )


def with_shares_of_all(segments: tuple[SegmentProfile, ...]) -> tuple[SegmentProfile, ...]:
    """The segments with each share of every customer placed, the returns only
    included (the clustered segments' shares were of the clustered customers)."""
    total = sum(s.size for s in segments)
    return tuple(replace(s, share=s.size / total if total else 0.0) for s in segments)


def rfm_features(config: ModelConfig) -> dict[str, str]:
    """The feature of each role an RFM fit scores (recency, frequency, monetary), or a
    refusal saying which role is missing, repeated or which feature is extra."""
    spec = get_algorithm(config.algorithm)
    roles = spec.scores_roles
    by_role: dict[str, list[str]] = {}
    for f in config.features:
        by_role.setdefault(role_of(f, config.spec), []).append(f)
    missing = [r for r in roles if r not in by_role]
    if missing:
        raise ParameterError(
            f"{spec.label} ({spec.name}) scores the features with the roles "
            f"{', '.join(roles)}, and no feature has the role {' or '.join(missing)} (the "
            f"features are {', '.join(config.features)}); fit the output of custseg rfm, or "
            "a table whose headers say recency, frequency and monetary", parameter="features")
    twice = next((r for r in roles if len(by_role[r]) > 1), None)
    if twice is not None:
        raise ParameterError(
            f"{spec.label} ({spec.name}) scores one feature per role, and "
            f"{' and '.join(by_role[twice])} both have the role {twice}; keep one of them "
            "in --features", parameter="features")
    extra = [f for f in config.features if role_of(f, config.spec) not in roles]
    if extra or config.use_gender or config.categorical:
        extra = extra + (["gender"] if config.use_gender else []) + list(config.categorical)
        raise ParameterError(
            f"{spec.label} ({spec.name}) scores recency, frequency and monetary only; leave "
            f"{', '.join(extra)} out of the features", parameter="features")
    return {r: by_role[r][0] for r in roles}


def score_segments(
    values: pd.DataFrame, features: Mapping[str, str], rulebook: Rulebook,
) -> tuple[RFMScoring, dict[int, ScoreSegment], np.ndarray]:
    """RFM scoring of the fitted customers: each feature's cut points, each customer's
    segment by the rulebook's score map, and the scoring a model keeps.

    Segment ids go to the map's segments that hold customers, by decreasing size (ties:
    map order), then to the empty ones in map order (new customers may land there).
    Returns the scoring, the map segment of each id, and each customer's id.
    """
    owner = np.asarray(rulebook.score_cells(), dtype=np.int64)
    segments = rulebook.score_map
    cuts = {role: tuple(float(c) for c in quintile_cuts(values[f].to_numpy(dtype="float64")))
            for role, f in features.items()}
    draft = RFMScoring(features=dict(features), cuts=cuts, cells=tuple(owner.tolist()))
    position = draft.segments_of(draft.score({f: values[f].to_numpy(dtype="float64")
                                              for f in features.values()}))
    counts = np.bincount(position, minlength=len(segments))
    order = sorted(range(len(segments)), key=lambda i: (counts[i] == 0, -counts[i], i))
    id_of = np.empty(len(segments), dtype=np.int64)
    id_of[order] = np.arange(len(segments))
    unfitted = tuple({"id": int(id_of[i]), "name": segments[i].name,
                      "description": segments[i].description, "strategy": segments[i].strategy}
                     for i in order if counts[i] == 0)
    scoring = RFMScoring(features=dict(features), cuts=cuts,
                         cells=tuple(int(v) for v in id_of[owner]), unfitted=unfitted)
    return scoring, {int(id_of[i]): segments[i] for i in order}, id_of[position]


def _in_order(mapping: Mapping[str, Any], order: tuple[str, ...]) -> list[tuple[str, Any]]:
    """``mapping``'s items with the keys in ``order`` first, in that order (a model file
    keeps its keys sorted)."""
    first = [(k, mapping[k]) for k in order if k in mapping]
    return first + [(k, v) for k, v in mapping.items() if k not in order]


def _sorted(value: Any) -> Any:
    """Mappings with their keys in the order of a JSON file written with sorted keys."""
    if isinstance(value, Mapping):
        return {k: _sorted(value[k]) for k in sorted(value, key=str)}
    return value


def _plain(value: Any) -> Any:
    """Recursively: numpy scalars to Python, tuples to lists, non-finite floats to None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
