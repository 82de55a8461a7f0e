"""The layering rule of DESIGN.md, enforced."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_custseg_leaves_streamlit_out():
    code = "import sys, custseg, custseg.cli; print('streamlit' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.strip() == "False"


def test_import_contracts():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_core_does_no_io():
    core = ["schema", "sample", "features", "algorithms", "segmenter", "evaluate", "profile",
            "scoring", "model", "errors", "charts", "summaries", "assigner", "explain",
            "suggestions", "stability", "identity", "report"]
    forbidden = ("open(", "read_csv", "to_csv", "Path(", "os.environ", "print(")
    for name in core:
        text = (ROOT / "src" / "custseg" / f"{name}.py").read_text()
        for word in forbidden:
            assert word not in text, f"{name}.py uses {word}"
