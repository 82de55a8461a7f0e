"""Reading what the dashboard shows: text it escaped for markdown, as a reader sees it
(the backslash escapes read, the invisible word joiners that keep links out dropped)."""

import re


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text).replace("\u2060", "")
