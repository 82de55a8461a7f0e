"""Errors a user can act on.

Every message says what is wrong and what to do about it. The command line prints
``error: <message>`` and exits 2 for any :class:`CustsegError`; the dashboard shows the
message as text. Anything else escaping is a bug.

A message is written for every face at once: it never names a command-line flag or a
dashboard control. When the fix is to change a setting, the error carries the library's
parameter name (``parameter``, plus the ``key`` within it, such as the field of a
``mapping``), and each face says how to change it in its own terms through
:meth:`CustsegError.render`: ``str(error)`` spells it for Python (``mapping={'age': ...}``),
the command line as its flag (``--map age=...``), the dashboard as its control.
"""

from __future__ import annotations

from collections.abc import Callable

#: How a face spells "change this setting": ``(parameter, key) -> text``, or None to say nothing.
Speller = Callable[[str, "str | None"], "str | None"]


#: Parameters that are mappings: their ``key`` is an entry (a field); for any other
#: parameter the ``key`` is the value to give it.
MAPPING_PARAMETERS = frozenset({"mapping", "ranges", "date_formats", "roles", "units"})


def python_spelling(parameter: str, key: str | None) -> str:
    """The library's own terms: the keyword argument to pass."""
    if key is None:
        return parameter
    if parameter in MAPPING_PARAMETERS:
        return f"{parameter}={{{key!r}: ...}}"
    return f"{parameter}={key!r}"


class CustsegError(Exception):
    """Base class: a problem with the user's input or request, not a bug.

    Parameters
    ----------
    message
        What is wrong and what to do, in words that hold for every face.
    parameter
        The library parameter that would fix it (``mapping``, ``income_unit``,
        ``max_decompressed_mb``...), when there is one.
    key
        For a mapping parameter (``mapping``, ``ranges``), the entry to set (a field);
        for any other, the value to give it (``"$"`` for ``income_unit``).
    """

    def __init__(self, message: str, *, parameter: str | None = None,
                 key: str | None = None) -> None:
        self.message = message
        self.parameter = parameter
        self.key = key
        super().__init__(self.render(python_spelling))

    def __reduce__(self):  # keep parameter and key across processes (Dask workers)
        return _rebuild, (type(self), self.message, self.parameter, self.key)

    def render(self, spell: Speller) -> str:
        """The message with the setting to change spelled by ``spell`` (one face's terms)."""
        if self.parameter is None:
            return self.message
        said = spell(self.parameter, self.key)
        return self.message if not said else f"{self.message} ({said})"


def _rebuild(cls: type[CustsegError], message: str, parameter: str | None,
             key: str | None) -> CustsegError:
    return cls(message, parameter=parameter, key=key)


class InputFileError(CustsegError):
    """A file cannot be read as a customer table (wrong type, empty, undecodable...)."""


class SchemaError(CustsegError):
    """The table's columns do not give what is needed (a required field absent, ambiguous)."""


class ParameterError(CustsegError, ValueError):
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
