"""Reading what the dashboard shows: text it escaped for markdown, as a reader sees it."""

import re


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)
