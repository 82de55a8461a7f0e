"""Header matching: input columns to the well-known fields, through an explicit alias table.

Headers are normalised (case, spacing, BOM, accents, punctuation) and then looked up by the
whole name, never by substring, so "Discount Percentage" is not taken for ``age``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from custseg.errors import SchemaError, shown
from custseg.table.fields import AGE, FIELDS, GENDER, ID, INCOME, INCOME_UNITS, SCORE
from custseg.table.parse import currency_in

if TYPE_CHECKING:
    from custseg.table.spec import InputSpec

# Normalised header -> (field, income unit implied by the header, or None).
# Every entry is a whole normalised header: matching is by equality only.
_ALIASES: dict[str, tuple[str, str | None]] = {}


def _alias(field_name: str, unit: str | None, *names: str) -> None:
    for name in names:
        _ALIASES[name] = (field_name, unit)


_alias(
    ID, None,
    "customer_id", "customerid", "id", "cust_id", "custid", "client_id", "clientid",
    "customer_no", "customer_number", "customer_num", "customer_code", "customer_key",
    "member_id", "memberid", "customer",
)
_alias(GENDER, None, "gender", "sex", "genre", "customer_gender")
_alias(AGE, None, "age", "age_years", "age_yrs", "age_in_years", "customer_age", "age_y")
_alias(
    INCOME, None,
    "annual_income", "income", "yearly_income", "annualincome", "customer_income",
)
_alias(
    INCOME, "k$",
    "annual_income_kusd", "annual_income_k", "annual_income_k_usd", "annual_income_thousands",
    "annual_income_in_thousands", "annual_income_thousand_usd", "income_kusd", "income_k",
    "income_k_usd", "yearly_income_kusd", "annual_income_usd_k", "annual_income_usd_000",
    "annual_income_000", "annual_income_000_usd",
)
_alias(
    INCOME, "$",
    "annual_income_usd", "annual_income_dollars", "annual_income_in_usd",
    "annual_income_in_dollars", "income_usd", "income_dollars", "yearly_income_usd",
)
_alias(
    SCORE, None,
    "spending_score", "spending_score_1_100", "spendingscore", "spend_score",
    "spending_score_1_to_100", "spending_score_0_100", "spending_index",
)

#: The alias table, exposed read-only for docs and the dashboard's "columns recognised".
ALIASES: Mapping[str, tuple[str, str | None]] = _ALIASES


def normalise_header(name: object) -> str:
    """Normalise a column header for alias lookup.

    Strips BOMs and accents, splits camelCase, lower-cases, spells ``k$`` / ``$`` out as
    ``kusd`` / ``usd``, and joins words with underscores: ``"Annual Income (k$)"`` gives
    ``"annual_income_kusd"``, ``"CustomerID"`` gives ``"customer_id"``.
    """
    text = unicodedata.normalize("NFKD", str(name)).replace("\ufeff", "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text.strip())
    text = text.lower().replace("k$", " kusd ").replace("$", " usd ")
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_")


def fields_named(columns: Sequence[object]) -> frozenset[str]:
    """The fields that some header of ``columns`` names by the alias table, never
    refused: two columns that could each be the age both name it (where
    :func:`match_headers` refuses to choose)."""
    return frozenset(_ALIASES[key][0] for key in map(normalise_header, columns)
                     if key in _ALIASES)


@dataclass(frozen=True)
class HeaderMatch:
    """Which input column feeds which canonical field.

    Columns are kept by position so that a header repeating a name is still exact.
    """

    columns: tuple[str, ...]
    fields: Mapping[str, int]
    income_unit: str = "k$"
    #: "header" | "given" | "default" (k$) | "values" (dollars: most values are above
    #: 1,000 k$, see :meth:`with_incomes_read`) | "model" (the unit a model was fitted with)
    income_unit_source: str = "default"
    #: Field -> why the column its header names was not taken (an income in euros).
    refused: Mapping[str, str] = field(default_factory=dict)
    #: Columns a model reads besides the fields (its features' sources): header -> position.
    sources: Mapping[str, int] = field(default_factory=dict)

    def expect(self, needs: Sequence[str], spec: InputSpec | None) -> HeaderMatch:
        """This match as a model reads the table: its other features' columns located
        (:meth:`with_sources`) and every field of ``needs`` they do not compute present
        (:meth:`require`); refused, naming the first missing, before any row is read."""
        if spec is None:
            self.require(needs)
            return self
        match = self.with_sources(spec.source_columns()) if spec.extra else self
        match.require([n for n in needs if n not in spec.names])
        if (spec.income_unit is not None and INCOME in match.fields
                and match.income_unit_source in ("default", "values")):
            # the header names no unit: the model's, as it read the file it was fitted on
            match = replace(match, income_unit=spec.income_unit, income_unit_source="model")
        return match

    def with_incomes_read(self, dollars: bool) -> HeaderMatch:
        """This match once the income column's values are seen: in dollars when its
        header names no unit (and none was stated) and ``dollars`` — most of its values
        are above 1,000, which in k$ would be a million dollars a year
        (:attr:`~custseg.table.parse.NumberFormat.dollar_incomes`)."""
        if dollars and INCOME in self.fields and self.income_unit_source == "default":
            return replace(self, income_unit="$", income_unit_source="values")
        return self

    def with_sources(self, headers: Sequence[str]) -> HeaderMatch:
        """This match with the positions of ``headers`` (as a model wrote them): the
        header exactly, else the one header equal after normalisation; a header missing
        or found twice is refused, naming it."""
        found: dict[str, int] = {}
        for wanted in headers:
            exact = [i for i, c in enumerate(self.columns) if c == wanted]
            if not exact:
                key = normalise_header(wanted)
                exact = [i for i, c in enumerate(self.columns) if normalise_header(c) == key]
            if len(exact) > 1:
                raise SchemaError(
                    f"the model reads the column {shown(wanted)}, and the table has "
                    f"{len(exact)} columns of that name; keep one.")
            if not exact:
                cols = ", ".join(shown(str(c), 40) for c in self.columns[:20])
                more = " …" if len(self.columns) > 20 else ""
                raise SchemaError(
                    f"the model reads the column {shown(wanted)}, which this table does not "
                    f"have. The table has: {cols}{more}. Give a table with the columns the "
                    "model was fitted on")
            found[wanted] = exact[0]
        return replace(self, sources=found)

    @property
    def ignored(self) -> tuple[str, ...]:
        """Input columns that feed no field: passed through untouched."""
        used = set(self.fields.values())
        return tuple(c for i, c in enumerate(self.columns) if i not in used)

    def source(self, field_name: str) -> str:
        return self.columns[self.fields[field_name]]

    def describe(self) -> list[dict[str, str]]:
        """One row per input column: what custseg does with it."""
        by_pos = {pos: name for name, pos in self.fields.items()}
        rows = []
        for pos, col in enumerate(self.columns):
            name = by_pos.get(pos)
            rows.append(
                {
                    "column": str(col),
                    "used_as": name or "",
                    "note": (
                        f"read in {self.income_unit} ({self.income_unit_source})"
                        if name == INCOME
                        else ("passed through unchanged" if name is None else "")
                    ),
                }
            )
        return rows

    def require(self, needed: Sequence[str]) -> None:
        """Raise :class:`SchemaError` naming every needed field that has no column."""
        missing = [f for f in needed if f not in self.fields]
        for name in missing:
            if name in self.refused:
                raise SchemaError(self.refused[name], parameter="income_unit", key="k$")
        if missing:
            names = ", ".join(missing)
            cols = ", ".join(shown(str(c), 40) for c in self.columns[:20])
            more = " …" if len(self.columns) > 20 else ""
            raise SchemaError(
                f"no column for {names}. The table has: {cols}{more}. Rename the column "
                "(accepted headers are listed in the README) or map it explicitly",
                parameter="mapping", key=missing[0],
            )


def match_headers(
    columns: Sequence[object],
    mapping: Mapping[str, str] | None = None,
    income_unit: str | None = None,
) -> HeaderMatch:
    """Match input headers to canonical fields.

    Parameters
    ----------
    columns
        The input header, in order.
    mapping
        Explicit ``{field: column}`` choices; they win over the alias table. One column
        feeds one field: a mapping that gives a column to two fields, or gives another
        field's column (by its header) away without mapping that field elsewhere, is
        refused rather than leaving a field to read the wrong column.
    income_unit
        ``"k$"`` or ``"$"`` to state the income unit; by default it comes from the
        header ("(k$)", "($)", "USD"…) and is k$ when the header names no unit.
    """
    cols = tuple(str(c) for c in columns)
    if income_unit is not None and income_unit not in INCOME_UNITS:
        raise SchemaError(
            f"income unit {shown(income_unit)} is not supported; use 'k$' (thousands of "
            "dollars) or '$' (dollars)."
        )
    fields: dict[str, int] = {}
    unit_from_header: str | None = None
    for name, col in (mapping or {}).items():
        if name not in FIELDS:
            raise SchemaError(
                f"cannot map unknown field {shown(name)}; the fields are {', '.join(FIELDS)}."
            )
        hits = [i for i, c in enumerate(cols) if c == col]
        if not hits:
            raise SchemaError(
                f"the mapping names column {shown(col)} for {name}, but the table has no "
                f"such column. Columns: {', '.join(shown(c, 40) for c in cols[:20])}."
            )
        if len(hits) > 1:
            raise SchemaError(
                f"column {shown(col)} appears {len(hits)} times in the header; rename the "
                "copies so the mapping is unambiguous."
            )
        other = next((f for f, i in fields.items() if i == hits[0]), None)
        if other is not None:
            raise SchemaError(
                f"the mapping gives column {shown(col)} to both {other} and {name}; one "
                "column feeds one field: map each to its own column",
                parameter="mapping", key=name,
            )
        fields[name] = hits[0]
        if name == INCOME:
            unit_from_header = _ALIASES.get(normalise_header(col), (INCOME, None))[1]
    for name, position in fields.items():
        # a column the header names as another field, which the mapping did not place
        # elsewhere: that field would silently lose it
        owner = _ALIASES.get(normalise_header(cols[position]), (name, None))[0]
        if owner != name and owner not in fields:
            raise SchemaError(
                f"column {shown(cols[position])} is the {owner} column by its header, and the "
                f"mapping gives it to {name}; one column feeds one field: map {name} to its "
                f"own column, or map {owner} to another one",
                parameter="mapping", key=name,
            )

    candidates: dict[str, list[int]] = {}
    taken = set(fields.values())
    for i, col in enumerate(cols):
        if i in taken:
            continue
        hit = _ALIASES.get(normalise_header(col))
        if hit and hit[0] not in fields:
            candidates.setdefault(hit[0], []).append(i)
    for name, positions in candidates.items():
        if len(positions) > 1:
            found = " and ".join(repr(cols[i]) for i in positions)
            raise SchemaError(
                f"columns {found} could each be {name}; keep one, or map the one to use "
                "explicitly",
                parameter="mapping", key=name,
            )
        fields[name] = positions[0]
        if name == INCOME:
            unit_from_header = _ALIASES[normalise_header(cols[positions[0]])][1]

    refused: dict[str, str] = {}
    if income_unit is None:  # a stated unit says the values are dollars, whatever the header
        _refuse_other_currency(cols, fields, refused, taken=set(fields.values()))
    ordered = {name: fields[name] for name in FIELDS if name in fields}
    if income_unit is not None:
        unit, source = income_unit, "given"
    elif unit_from_header is not None:
        unit, source = unit_from_header, "header"
    else:
        unit, source = "k$", "default"
    return HeaderMatch(columns=cols, fields=ordered, income_unit=unit, income_unit_source=source,
                       refused=refused)


def _refuse_other_currency(cols: tuple[str, ...], fields: dict[str, int],
                           refused: dict[str, str], taken: set[int]) -> None:
    """Leave out an income column whose header names another currency than the US
    dollar ('Annual Income (€)', 'Income EUR'), saying why in ``refused``."""
    positions = [fields[INCOME]] if INCOME in fields else [
        i for i in range(len(cols)) if i not in taken]
    for position in positions:
        found = currency_in(cols[position])
        if found is None:
            continue
        rest, name = found
        if _ALIASES.get(normalise_header(rest), (None,))[0] != INCOME:
            continue  # "Notes (€ spent)": not an income header without the currency
        fields.pop(INCOME, None)
        refused[INCOME] = (
            f"the income column {shown(cols[position])} is in {name}, by its header; custseg "
            "reads incomes in US dollars. Convert the column to thousands of US dollars "
            "and name it accordingly (such as 'Annual Income (k$)'); if its values are US "
            "dollars already, state the unit"
        )
        return


def renamed_clashes(header: Sequence[str], added: Sequence[str]) -> list[str]:
    """The input ``header`` with each name that clashes with a column about to be
    ``added`` renamed ``<name>_input`` — or ``<name>_input_2``, ``_3``… when that is taken
    too (a file scored twice already holds ``segment_id_input``), so that no two output
    columns share a name."""
    added_set = set(added)
    taken = set(header) | added_set
    out: list[str] = []
    for name in header:
        if name not in added_set:
            out.append(name)
            continue
        new, n = f"{name}_input", 2
        while new in taken:
            new, n = f"{name}_input_{n}", n + 1
        taken.add(new)
        out.append(new)
    return out
