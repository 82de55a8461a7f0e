"""What an analyst can cluster a table on, as the dashboard offers it.

The dashboard's data step lists the same columns :func:`custseg.inspect` describes and
passes what the analyst picks to :func:`custseg.api.fit_config`, the path ``custseg fit``
takes too. These functions only decide the choices and their defaults from an
:class:`~custseg.table.inspect.Inspection`; they never read a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from custseg.errors import CustsegError
from custseg.table.fields import NUMERIC_FIELDS, UNITS
from custseg.table.headers import HeaderMatch
from custseg.table.inspect import Inspection
from custseg.table.roles import FIELD_ROLES
from custseg.table.spec import parse_assignments

#: Column kinds offered as numeric features (flags are profiled as shares, never levelled).
FEATURE_KINDS = frozenset({"numeric"})


@dataclass(frozen=True)
class FeatureChoice:
    """One feature the analyst may pick.

    ``name`` is what fitting takes (a well-known field's name, or the header as written);
    ``source`` is ``"field"`` or ``"column"``; ``kind``, ``role``, ``unit`` and
    ``transform`` (the one ``auto`` picks) are inspect's.
    """

    name: str
    source: str
    kind: str
    role: str
    unit: str
    transform: str
    header: str


def feature_choices(match: HeaderMatch, inspection: Inspection) -> list[FeatureChoice]:
    """The well-known numeric fields the table has (in their order), then every numeric
    column of another header, in the table's order. Ids, constants, flags, dates and text
    are left out; year columns stay (a derivation usually reads them instead)."""
    by_position = {pos: name for name, pos in match.fields.items()}
    out: list[FeatureChoice] = []
    for field_name in NUMERIC_FIELDS:
        if field_name not in match.fields:
            continue
        info = inspection.columns[match.fields[field_name]]
        out.append(FeatureChoice(field_name, "field", info.kind, FIELD_ROLES[field_name],
                                 UNITS[field_name], info.transform, info.name))
    for info in inspection.columns:
        if info.position in by_position or info.kind not in FEATURE_KINDS:
            continue
        out.append(FeatureChoice(info.name, "column", info.kind, info.role, info.unit or "",
                                 info.transform, info.name))
    return out


def default_features(match: HeaderMatch, inspection: Inspection
                     ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(features, derivations)`` to start from, as ``custseg fit`` chooses with no
    ``--features``: the Mall fields when the table has all three, else inspect's
    suggestion (its derived features with their derivations), else whatever fields it has.
    """
    present = tuple(f for f in NUMERIC_FIELDS if f in match.fields)
    if len(present) == len(NUMERIC_FIELDS) or not inspection.suggested_features:
        return present, ()
    by_header = {match.columns[pos]: name for name, pos in match.fields.items()}
    derived = {derivation_name(d): d for d in inspection.suggested_derivations}
    features = tuple(by_header.get(f, f) for f in inspection.suggested_features)
    return features, tuple(derived[f] for f in features if f in derived)


def derivation_name(text: str) -> str:
    """The name a ``NAME = EXPR`` line defines (the text before the first ``=``)."""
    return text.partition("=")[0].strip()


def derivation_lines(text: str) -> tuple[str, ...]:
    """The derivations of a text box: one ``NAME = EXPR`` per line, blank lines and
    ``#`` comments skipped. Parsing (and its error positions) is the derivation
    language's."""
    return tuple(line.strip() for line in str(text).splitlines()
                 if line.strip() and not line.strip().startswith("#"))


def assignment_lines(text: str, what: str, parameter: str) -> dict[str, str]:
    """``COLUMN=VALUE`` lines (date formats): the value after the last ``=``, since a
    header may hold one; a line without ``=`` or a column given twice is refused."""
    return parse_assignments(derivation_lines(text), what, parameter, last=True,
                             shape="COLUMN=FORMAT")


def chosen_derivations(lines: Sequence[str], features: Sequence[str]) -> tuple[str, ...]:
    """The derivations whose feature is chosen (a derivation fitting does not use is kept
    in the box for later, not passed on)."""
    chosen = set(features)
    return tuple(line for line in lines if derivation_name(line) in chosen)


def formats_read(derivations: Sequence[str], formats: dict[str, str],
                 headers: Sequence[str]) -> dict[str, str]:
    """The given date formats of the columns ``derivations`` read as dates (the others
    serve the inspection only: fitting refuses a format no derivation uses). A
    derivation that does not parse reads nothing here; fitting says what is wrong."""
    from custseg.table.derive import date_columns, parse_derivation, resolve

    read: set[str] = set()
    for text in derivations:
        try:
            read.update(date_columns(resolve(parse_derivation(text).expr, headers)))
        except CustsegError:
            continue
    return {column: fmt for column, fmt in formats.items() if column in read}
