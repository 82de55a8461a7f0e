"""Text that custseg shows: what segment names and strategies may hold, and how text is
made safe for a terminal.

Names, descriptions and strategies come from rulebooks, an analyst's edits and model
files, any of which may be hostile. They are held to one rule everywhere (a rulebook
when it is read, an edit when it is made, a model file when it is loaded and before it
is written): bounded length and no control characters — no C0 or C1 control codes, no
DEL, no bidirectional overrides (which reorder what a reader sees) and no line or
paragraph separators. Text from the data itself (gender answers) is kept as written and
made safe where it is shown: :func:`terminal_safe` for a terminal, HTML escaping for
Plotly and the report, markdown escaping in the dashboard.
"""

from __future__ import annotations

import re

#: Longest segment name: a rule's name (at most :data:`RULE_NAME_MAX`) with an age
#: modifier and a number to make it unique, or a generic name built of three words.
NAME_MAX = 200
#: Longest name a rulebook rule, or an analyst, may give a segment.
RULE_NAME_MAX = 80
#: Longest word or modifier of a rulebook (generic names are built of three words).
WORD_MAX = 30
#: Longest description, strategy, fact, rule text or warning.
TEXT_MAX = 2_000

#: Characters that act on a terminal or reorder displayed text: C0 controls (tab and
#: newline included: one value, one line), DEL, C1 controls, the Arabic letter mark,
#: left-to-right/right-to-left marks, the bidirectional embeddings, overrides and
#: isolates, and the line and paragraph separators.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def control_in(text: str) -> str | None:
    """The first control character of ``text`` (see :data:`CONTROL`), or None."""
    found = CONTROL.search(text)
    return None if found is None else found.group()


def text_problem(value: object, max_len: int, *, empty: bool = True) -> str | None:
    """Why ``value`` is not acceptable as a name or text of at most ``max_len``
    characters (or empty, unless ``empty`` is False), or None when it is."""
    if not isinstance(value, str):
        return f"must be text, not {type(value).__name__}"
    if not empty and not value.strip():
        return "must not be blank"
    if len(value) > max_len:
        return f"is {len(value):,} characters long; at most {max_len:,} are allowed"
    char = control_in(value)
    if char is not None:
        return (f"holds the control character U+{ord(char):04X}; names and texts may not "
                "hold control characters, bidirectional overrides or line breaks")
    return None


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with every control character (see :data:`CONTROL`) written as a visible
    escape (``\\x1b``, ``\\u202e``), so that printing it cannot move the cursor, clear
    the screen, set the clipboard or reorder the line."""
    return CONTROL.sub(_escape, text)
