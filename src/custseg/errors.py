"""Errors a user can act on.

Every message says what is wrong and what to do about it. The command line prints
``error: <message>`` and exits 2 for any :class:`CustsegError`; the dashboard shows the
message as text. Anything else escaping is a bug.
"""

from __future__ import annotations


class CustsegError(Exception):
    """Base class: a problem with the user's input or request, not a bug."""


class InputFileError(CustsegError):
    """A file cannot be read as a customer table (wrong type, empty, undecodable...)."""


class SchemaError(CustsegError):
    """The table's columns do not give what is needed (a required field absent, ambiguous)."""


class ParameterError(CustsegError):
    """An algorithm name or hyperparameter is unknown or out of range."""


class ModelFileError(CustsegError):
    """A model file is not a custseg model, is of another version, or fails its checksum."""


class NotEnoughDataError(CustsegError):
    """Too few valid rows to fit what was asked for."""


def shown(value: object, limit: int = 40) -> str:
    """Quote a user-supplied value for an error message: repr-style, bounded length.

    Using ``repr`` makes control characters, quotes and markup visible as text instead
    of letting them act on whatever displays the message.
    """
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return repr(text)
