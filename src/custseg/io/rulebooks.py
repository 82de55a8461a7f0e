"""Reading rulebooks: the packaged default, or a user's TOML file."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from custseg.errors import CustsegError, shown
from custseg.segments.profile import Rulebook, RulebookError
from custseg.segments.schema import MAX_RULEBOOK_CHARS

#: Largest rulebook file read (UTF-8 text of at most MAX_RULEBOOK_CHARS characters).
MAX_RULEBOOK_BYTES = MAX_RULEBOOK_CHARS


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
        if not source.is_file():
            raise CustsegError(f"rulebook {shown(str(source))} is not a file; give the path of "
                               "a .toml rulebook (custseg rules -o rules.toml writes one).",
                               parameter="rules")
        with source.open("rb") as fh:  # at most one byte past the cap: never a huge read
            data = fh.read(MAX_RULEBOOK_BYTES + 1)
        if len(data) > MAX_RULEBOOK_BYTES:
            raise RulebookError(
                f"rulebook {shown(str(source))} is larger than {MAX_RULEBOOK_BYTES >> 20} MB; a "
                "rulebook is a small TOML file (the default one is about 7 KB).",
                parameter="rules")
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CustsegError(f"cannot read rulebook {shown(str(source))}: {exc}.",
                           parameter="rules") from None
    try:
        return Rulebook.from_toml(text)
    except RulebookError as exc:
        raise RulebookError(f"rulebook {shown(source.name)}: {exc.message}",
                            parameter="rules") from None
