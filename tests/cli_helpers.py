"""Running the command line in-process, and the contract for a refusal."""

from __future__ import annotations

from custseg.cli import main


def run(capsys, *args) -> tuple[int, str, str]:
    """``custseg ARGS`` in this process: its exit code, stdout and stderr."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(code: int, err: str) -> str:
    """The one ``error:`` line of a refusal (exit 2, no traceback, no internal error)."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err and "internal error" not in err
    return lines[0]
