"""custseg: customer segmentation as a library, a command line, a dashboard and a service.

The names below are loaded on first use, so that ``import custseg`` (and the command
line's ``--help``) stays light: scikit-learn, plotly and pyarrow load only when a name that
needs them is touched. The library never imports streamlit; the dashboard lives in
:mod:`custseg.app`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "ALGORITHMS": "custseg.cluster.algorithms",
    "CustsegError": "custseg.errors",
    "ModelConfig": "custseg.model.segmentation",
    "SegmentationModel": "custseg.model.segmentation",
    "Segmenter": "custseg.cluster.segmenter",
    "fit": "custseg.api",
    "get_algorithm": "custseg.cluster.algorithms",
    "inspect": "custseg.api",
    "load_model": "custseg.io.model_files",
    "make_customers": "custseg.table.sample",
    "predict_one": "custseg.api",
    "read_table": "custseg.io.source",
    "save_model": "custseg.io.model_files",
    "score": "custseg.api",
    "score_file": "custseg.io.score_files",
    "suggest": "custseg.api",
}

__all__ = [
    "ALGORITHMS",
    "CustsegError",
    "ModelConfig",
    "SegmentationModel",
    "Segmenter",
    "fit",
    "get_algorithm",
    "inspect",
    "load_model",
    "make_customers",
    "predict_one",
    "read_table",
    "save_model",
    "score",
    "score_file",
    "suggest",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from custseg.api import fit, inspect, predict_one, score, suggest
    from custseg.cluster.algorithms import ALGORITHMS, get_algorithm
    from custseg.cluster.segmenter import Segmenter
    from custseg.errors import CustsegError
    from custseg.io.model_files import load_model, save_model
    from custseg.io.score_files import score_file
    from custseg.io.source import read_table
    from custseg.model.segmentation import ModelConfig, SegmentationModel
    from custseg.table.sample import make_customers


def __getattr__(name: str) -> Any:
    if name == "__version__":  # one source of truth: the installed package's metadata
        from importlib.metadata import version

        return version("custseg")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'custseg' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
