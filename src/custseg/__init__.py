"""custseg: customer segmentation as a library, a command line and a dashboard.

The library never imports streamlit; the dashboard lives in :mod:`custseg.app`.
"""

from custseg.algorithms import ALGORITHMS, get_algorithm
from custseg.api import fit, predict_one, score, suggest
from custseg.errors import CustsegError
from custseg.io.model_files import load_model, save_model
from custseg.io.readers import read_table
from custseg.io.scoring import score_file
from custseg.model import ModelConfig, SegmentationModel
from custseg.sample import make_customers
from custseg.segmenter import Segmenter

__all__ = [
    "ALGORITHMS",
    "CustsegError",
    "ModelConfig",
    "SegmentationModel",
    "Segmenter",
    "fit",
    "get_algorithm",
    "load_model",
    "make_customers",
    "predict_one",
    "read_table",
    "save_model",
    "score",
    "score_file",
    "suggest",
]
