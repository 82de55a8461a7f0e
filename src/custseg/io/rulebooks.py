"""Reading rulebooks: the packaged default, or a user's TOML file."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from custseg.errors import CustsegError, shown
from custseg.segments.profile import Rulebook


def default_rulebook_text() -> str:
    return files("custseg").joinpath("rules.toml").read_text(encoding="utf-8")


def default_rulebook() -> Rulebook:
    """The rulebook shipped with custseg (``src/custseg/rules.toml``)."""
    return Rulebook.from_toml(default_rulebook_text())


def load_rulebook(path: str | os.PathLike[str] | None) -> Rulebook:
    """A user's rulebook file, or the default when ``path`` is None."""
    if path is None:
        return default_rulebook()
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CustsegError(f"cannot read rulebook {shown(str(source))}: {exc}.") from None
    return Rulebook.from_toml(text)
