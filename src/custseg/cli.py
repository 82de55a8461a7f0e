"""The ``custseg`` command line.

Each command loads, calls the library, writes, and signals failure by its exit code:
0 on success, 2 on bad input or usage (one ``error: …`` line on stderr, no traceback),
1 on an internal error. Files are written atomically: nothing half-written on failure.

Start-up is paid by every command, so this module imports only Typer, the errors and the
algorithm registry (names, no scikit-learn); each command imports what it uses when it
runs, and ``custseg --help`` and ``--version`` load neither scikit-learn, pandas nor plotly.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shlex
import subprocess
import sys
import warnings
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from custseg.cluster.algorithms import ALGORITHMS, MAX_NEIGHBORS, MAX_SEED
from custseg.cluster.labels import RETURNS_ONLY
from custseg.errors import CustsegError, ParameterError, shown
from custseg.table.sample import DEMO_MAX_ROWS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from custseg.io.source import CustomerTable, ReadLimits
    from custseg.table.fields import Ranges

app = typer.Typer(
    name="custseg",
    help="Customer segmentation: cluster, name, explain and assign customers to segments.",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

#: The registry's algorithms, as choices Typer checks before a command runs.
Algorithm = StrEnum("Algorithm", {name: name for name in ALGORITHMS})


class Engine(StrEnum):
    """Where ``score`` and ``rfm`` run: in this process, or on a Dask cluster."""

    local = "local"
    dask = "dask"


# ------------------------------------------------------------- shared options
# Each option that several commands take is declared once, here.

ModelArg = Annotated[Path, typer.Argument(metavar="MODEL", help="A model file.")]
DataArg = Annotated[Path, typer.Argument(
    help="Customer table: CSV, TSV, Excel or Parquet (a file or a pipe; '-' reads standard "
         "input).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed.", min=0, max=MAX_SEED)]
AlgorithmOpt = Annotated[
    Algorithm, typer.Option("--algorithm", "-a", help="Clustering algorithm.")
]
Params = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="Hyperparameter NAME=VALUE (scikit-learn names)."),
]
Features = Annotated[
    str | None,
    typer.Option("--features",
                 help="Comma-separated features: well-known fields, column headers (as "
                      "written) or derived names (default age,annual_income,spending_score)."),
]
Derive = Annotated[
    list[str] | None,
    typer.Option("--derive", help="NAME=EXPR: a derived feature, e.g. "
                 "'total=sum(`Mnt*`)' (repeatable; see docs/derivations.md)."),
]
Transform = Annotated[
    list[str] | None,
    typer.Option("--transform", help="FEATURE=auto|none|log1p|signed_log1p (repeatable; "
                 "default auto: a log for skewed values)."),
]
UseGender = Annotated[bool, typer.Option("--use-gender", help="Add one-hot gender.")]
Categorical = Annotated[
    str | None,
    typer.Option("--categorical",
                 help="Comma-separated columns to cluster on by their categories (one-hot; "
                      "each weighs as much as one numeric feature; at most 100 values)."),
]
# How to read a customer table: every command that reads one takes these.
MapOpt = Annotated[
    list[str] | None, typer.Option("--map", help="FIELD=COLUMN for an unrecognised header.")
]
IncomeUnit = Annotated[
    str | None, typer.Option("--income-unit", help="Unit of the income column: 'k$' or '$'.")
]
RangeOpt = Annotated[list[str] | None, typer.Option("--range", help="Valid range FIELD=LOW:HIGH.")]
MaxDecompressedMb = Annotated[
    int, typer.Option("--max-decompressed-mb",
                      help="Cap on what a compressed input may expand to (MB).", min=1)
]
#: ReadLimits' default (8 GiB), in the option's MB, without importing io at start-up.
DEFAULT_MAX_DECOMPRESSED_MB = 8_192
# Every command that writes a file takes this; an input is never overwritten, --force or not.
Force = Annotated[
    bool, typer.Option("--force", help="Replace an existing output file of another kind "
                       "(a table by a model, say).")
]
DateFormatOpt = Annotated[
    list[str] | None,
    typer.Option("--date-format", help="COLUMN=FORMAT: a date column's format in strftime "
                 "codes, such as 'Dt_Customer=%d-%m-%Y'."),
]
MaxRows = Annotated[
    int | None, typer.Option("--max-rows", min=1,
                             help="Most rows read into memory (default 1,000,000).")
]


def _out(text: str, err: bool = False) -> None:
    """Print one line of text: the one way the command line writes text to a terminal.

    Model files, rulebooks and tables may carry text meant for a terminal rather than a
    reader (``\\x1b]52;`` writes the clipboard, ``\\x1b[2J`` clears the screen, a
    right-to-left override reorders the line); every control character is printed as a
    visible escape instead (:func:`custseg.table.text.terminal_safe`).
    """
    from custseg.table.text import terminal_safe

    typer.echo(terminal_safe(str(text)), err=err)


def _err(message: str) -> None:
    _out(" ".join(str(message).splitlines()), err=True)


#: What JSON leaves raw with ensure_ascii=False but a terminal may act on: DEL, the C1
#: controls, bidirectional marks and overrides, line separators (JSON escapes C0 itself).
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _print_json(data: Any) -> None:
    """JSON on stdout, text kept exact (non-ASCII as itself) but every character a
    terminal could act on written as a \\u escape: the same data, safe to print."""
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)
    typer.echo(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def _parse_mapping(items: list[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    out = {}
    for item in items:
        name, sep, column = item.partition("=")
        if not sep or not name.strip() or not column:
            raise ParameterError(f"--map {shown(item)} should look like FIELD=COLUMN, e.g. age=Age.")
        if name.strip() in out:
            raise ParameterError(f"--map {shown(name.strip())} is given twice; map each field "
                                 "to one column.")
        out[name.strip()] = column
    return out


def _parse_date_formats(items: list[str] | None) -> dict[str, str] | None:
    """``--date-format COLUMN=FORMAT`` values; the format is after the last ``=`` (a
    header may hold one, a strftime format does not)."""
    if not items:
        return None
    out: dict[str, str] = {}
    for item in items:
        column, sep, fmt = item.rpartition("=")
        if not sep or not column or "%" not in fmt:
            raise ParameterError(
                f"--date-format {shown(item)} should look like COLUMN=FORMAT with strftime "
                "codes, e.g. 'Dt_Customer=%d-%m-%Y'."
            )
        if column in out:
            raise ParameterError(f"--date-format {shown(column)} is given twice; give one "
                                 "format per column.")
        out[column] = fmt
    return out


def _parse_ranges(items: list[str] | None) -> Ranges:
    from custseg.table.fields import Ranges

    if not items:
        return Ranges()
    values = {}
    for item in items:
        name, sep, span = item.partition("=")
        low, sep2, high = span.partition(":")
        if name.strip() in values:
            raise ParameterError(f"--range {shown(name.strip())} is given twice; give one "
                                 "range per field.")
        try:
            values[name.strip()] = (float(low), float(high))
        except ValueError:
            raise ParameterError(
                f"--range {shown(item)} should look like FIELD=LOW:HIGH, e.g. age=18:90."
            ) from None
        if not sep or not sep2:
            raise ParameterError(f"--range {shown(item)} should look like FIELD=LOW:HIGH.")
    return Ranges.from_dict(values)


def _parse_params(assignments: list[str] | None) -> dict[str, str]:
    """``--param`` values: ``["n_clusters=5", "linkage=ward"]`` -> ``{"n_clusters": "5", ...}``.

    The values stay text; the algorithm registry checks and converts them.
    """
    out: dict[str, str] = {}
    for item in assignments or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ParameterError(
                f"--param {shown(item)} should look like NAME=VALUE, e.g. n_clusters=5."
            )
        if name.strip() in out:
            raise ParameterError(f"--param {name.strip()} is given twice.")
        out[name.strip()] = value.strip()
    return out


def _parse_sample_size(value: str | None) -> int | str | None:
    if value is None or value == "all":
        return value
    try:
        size = int(value)
    except ValueError:
        raise ParameterError(
            f"--sample-size {shown(value)} must be a whole number or 'all'."
        ) from None
    if size < 2:
        raise ParameterError("--sample-size must be at least 2.")
    return size


def _limits(max_decompressed_mb: int, max_rows: int | None = None) -> ReadLimits:
    from custseg.io.source import ReadLimits

    return ReadLimits(max_decompressed_bytes=max_decompressed_mb << 20, max_rows=max_rows)


def _read(data: Path, map_: list[str] | None, income_unit: str | None,
          max_decompressed_mb: int, max_rows: int | None = None,
          models: tuple = ()) -> CustomerTable:
    """A whole customer table, read as the input options say; for ``models``, with the
    columns mapped as they were fitted when no ``--map`` is given."""
    from custseg.io.source import read_table

    given = _parse_mapping(map_) or {}
    kept: dict[str, str] = {}
    for m in models:
        for field_, header in m.config.spec.mapping.items():
            if field_ not in given and kept.get(field_, header) != header:
                raise ParameterError(
                    f"the two models read {field_} from different columns "
                    f"({shown(kept[field_], 40)} and {shown(header, 40)}); say which column "
                    "this table holds it in", parameter="mapping", key=field_)
            kept[field_] = header
    mapping = {**kept, **given} or None
    return read_table(_input_path(data), mapping=mapping,
                      income_unit=income_unit, limits=_limits(max_decompressed_mb, max_rows))


#: What ``-`` as an input stands for: standard input, read (spooled) as a pipe is.
STDIN = "/dev/stdin"


def _input_path(path: Path | str) -> Path:
    """An input argument as a path: ``-`` is standard input."""
    if str(path) != "-":
        return Path(path)
    if not os.path.exists(STDIN):
        raise ParameterError(
            "'-' (standard input) cannot be read on this system; give a file name."
        )
    return Path(STDIN)


def _regular_file_only(path: Path | str, why: str) -> None:
    """Refuse a pipe or a device where custseg must read a file by name more than once,
    or in another process."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # missing: the reader says so, by name
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return
    what = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode)
            else "a character device" if stat.S_ISCHR(mode) else "not a regular file")
    shown_path = "'-' (standard input)" if str(path) == STDIN else shown(str(path))
    raise ParameterError(f"{shown_path} is {what}; {why}")


def _file_output(value: str) -> Path:
    """An output file name as typed: a trailing slash names a folder (which Path drops)."""
    if value.endswith(("/", os.sep)):
        raise typer.BadParameter(f"{value!r} ends in '/', so it names a folder; give a file "
                                 "name.")
    return Path(value)


def _check_output(output: Path, kind: str, force: bool, *inputs: Path | str | None) -> None:
    """Refuse a bad output path before any work is done (the writer checks again)."""
    from custseg.io.outputs import check_output_path

    check_output_path(output, *inputs, kind=kind, force=force)


def _show_version(value: bool) -> None:
    if value:
        from custseg import __version__

        _out(f"custseg {__version__}")
        raise typer.Exit()


# ---------------------------------------------------------------------- commands


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", is_eager=True,
                           callback=_show_version)
    ] = False,
) -> None:
    """Options of ``custseg`` itself, before the command (the help is the app's)."""


@app.command("demo-data")
def demo_data(
    output: Annotated[Path, typer.Option("-o", "--output", help="CSV file to write.", parser=_file_output)],
    n: Annotated[int, typer.Option("-n", help="Number of customers (with --transactions, "
                                   "of log lines).", min=1)] = 200,
    seed: Seed = 0,
    transactions: Annotated[bool, typer.Option(
        "--transactions", help="Write a transaction log (invoice lines) of customers with "
                               "known behaviours instead, for custseg rfm.")] = False,
    force: Force = False,
) -> None:
    """Write the built-in demo customer table (or, with --transactions, a demo log)."""
    from custseg.io.writers import output_format, write_frame_csv

    if not transactions and n > DEMO_MAX_ROWS:
        raise ParameterError(f"-n {n:,}: the demo table takes at most {DEMO_MAX_ROWS:,} "
                             "customers.")
    output_format(output)
    _check_output(output, "table", force)
    if transactions:
        from custseg.table.sample_log import make_transactions

        log, truth = make_transactions(n, seed)
        write_frame_csv(log, output, force=force)
        _err(f"wrote a demo log of {n:,} lines ({len(truth):,} customers) to {output}")
        return
    from custseg.table.sample import make_customers

    write_frame_csv(make_customers(n, seed), output, force=force)
    _err(f"wrote {n:,} demo customers to {output}")


AsOf = Annotated[str | None, typer.Option(
    "--as-of", help="YYYY-MM-DD: the day a log's recency and tenure count to (default: the "
                    "day after its latest purchase).")]
#: The aggregation's memory limit by default (io.rfm's), without importing io at start-up.
DEFAULT_MEMORY_LIMIT = "350MB"
MemoryLimit = Annotated[str, typer.Option(
    "--memory-limit", help="Memory for a log's aggregation (DuckDB's limit, such as 350MB or "
                           "2GB); beyond it, it spills to a temporary folder.")]


def _column_option(role: str, example: str) -> Any:
    return typer.Option(f"--{role}", help=f"The log's {role} column, header as written "
                        f"(default: found by its header, such as {example}).")


#: The log's column options, shared by ``rfm`` and ``fit --transactions``.
LogCustomer = Annotated[str | None, _column_option("customer", "CustomerID")]
LogDate = Annotated[str | None, _column_option("date", "InvoiceDate")]
LogInvoice = Annotated[str | None, _column_option("invoice", "InvoiceNo")]
LogAmount = Annotated[str | None, _column_option("amount", "Amount")]
LogQuantity = Annotated[str | None, _column_option("quantity", "Quantity")]
LogPrice = Annotated[str | None, _column_option("price", "UnitPrice")]


@app.command("rfm")
def rfm_command(
    transactions: Annotated[Path, typer.Argument(
        metavar="TRANSACTIONS",
        help="Transaction log (invoice or order lines): CSV, TSV, Excel or Parquet, a "
             "file or a folder or a glob of its files.")],
    output: Annotated[Path, typer.Option("-o", "--output", parser=_file_output,
                                         help="Customer table to write (.csv or .parquet).")],
    customer: LogCustomer = None,
    date: LogDate = None,
    invoice: LogInvoice = None,
    amount: LogAmount = None,
    quantity: LogQuantity = None,
    price: LogPrice = None,
    as_of: AsOf = None,
    date_format: Annotated[str | None, typer.Option(
        "--date-format", help="The date column's format in strftime codes, such as "
                              "'%d/%m/%Y %H:%M' (or COLUMN=FORMAT).")] = None,
    engine: Annotated[Engine, typer.Option(
        help="local, or dask: the files of a folder or a glob aggregated on Dask, with "
             "the local engine's result for the files concatenated.")] = Engine.local,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (default: a local cluster).")
    ] = None,
    max_decompressed_mb: MaxDecompressedMb = DEFAULT_MAX_DECOMPRESSED_MB,
    memory_limit: MemoryLimit = DEFAULT_MEMORY_LIMIT,
    force: Force = False,
    as_json: AsJson = False,
) -> None:
    """Aggregate a transaction log to one row per customer: recency, frequency, monetary."""
    from custseg.io.rfm import rfm_file  # not custseg.api, which loads scikit-learn
    from custseg.table.transactions import given_columns

    if scheduler is not None and engine is not Engine.dask:
        raise ParameterError("--scheduler only applies with --engine dask.")
    if engine is Engine.dask:
        if str(transactions) == "-":
            raise ParameterError(
                "'-' (standard input) cannot be aggregated with --engine dask: its workers "
                "read the log by name, in other processes. Save it to a file, or use "
                "--engine local.")
        _regular_file_only(transactions, "the Dask engine reads the log by name, in other "
                           "processes. Save it to a file, or use --engine local, which "
                           "reads pipes.")

    date, fmt = _log_date_format(date, [date_format] if date_format is not None else None)
    result = rfm_file(_input_path(transactions), output,
                      columns=given_columns(customer, date, invoice, amount, quantity, price),
                      as_of=as_of, date_format=fmt, limits=_limits(max_decompressed_mb),
                      force=force, memory_limit=memory_limit, engine=engine.value,
                      scheduler=scheduler)
    summary = result.summary
    if as_json:
        _print_json(summary.to_json_dict())
    else:
        _print_log_summary(summary)
    _err(f"wrote {summary.customers:,} customers to {output}")


def _log_date_format(date: str | None, given: list[str] | None,
                     ) -> tuple[str | None, str | None]:
    """The log's date column and format from ``--date`` and ``--date-format`` (``FORMAT``
    or ``COLUMN=FORMAT``, once)."""
    if not given:
        return date, None
    if len(given) > 1:
        raise ParameterError("--date-format is given more than once; a log has one date "
                             "column: give its format once.")
    fmt = given[0]
    if "=" in fmt:
        column, _, fmt = fmt.rpartition("=")
        if date is not None and column != date:
            raise ParameterError(f"--date-format is given for {shown(column)} but the date "
                                 f"column is {shown(date)}; give the format alone.")
        date = date or column
    if "%" not in fmt:
        raise ParameterError(f"--date-format {shown(fmt)} has no strftime code; give the "
                             "format such as '%d/%m/%Y'.")
    return date, fmt


def _print_log_summary(summary: Any, err: bool = False) -> None:
    """A log's aggregation: lines read, used and excluded by reason; columns; as-of (on
    stderr with ``err``, when stdout carries a JSON document)."""
    excluded = sum(summary.excluded.values())
    why = ", ".join(f"{reason}: {n:,}" for reason, n in summary.excluded.items())
    _out(f"lines: {summary.read:,} read, {summary.used:,} used, {excluded:,} excluded"
         + (f" ({why})" if why else ""), err)
    if summary.duplicate_lines:
        _out(f"identical lines: {summary.duplicate_lines:,} (kept: two identical lines "
             "are two items bought)", err)
    taken = ", ".join(f"{role} {shown(name, 60) if role != 'value' else name}"
                      for role, name in summary.columns.items() if name is not None)
    _out(f"columns: {taken}", err)
    _out(f"as of: {summary.as_of or '(no purchase in the log)'}", err)


@app.command()
def fit(
    data: DataArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Model file to write.", parser=_file_output)],
    algorithm: AlgorithmOpt = Algorithm.kmeans,
    param: Params = None,
    features: Features = None,
    derive: Derive = None,
    transform: Transform = None,
    date_format: DateFormatOpt = None,
    profile_by: Annotated[
        str | None,
        typer.Option("--profile-by", help="COL[,COL]: categorical columns to profile each "
                     "segment by (default: every categorical or 0/1 column of at most 20 "
                     "values)."),
    ] = None,
    use_gender: UseGender = False,
    categorical: Categorical = None,
    neighbors: Annotated[
        int, typer.Option(help="Neighbours in the assigner's vote.", min=1, max=MAX_NEIGHBORS)
    ] = 3,
    sample_size: Annotated[
        str | None, typer.Option(help="Rows the clusterer sees (number or 'all').")
    ] = None,
    seed: Seed = 0,
    map_: MapOpt = None,
    income_unit: IncomeUnit = None,
    range_: RangeOpt = None,
    rules: Annotated[Path | None, typer.Option(help="Rulebook TOML (default: built in).")] = None,
    max_decompressed_mb: MaxDecompressedMb = DEFAULT_MAX_DECOMPRESSED_MB,
    max_rows: MaxRows = None,
    reference: Annotated[
        Path | None,
        typer.Option(help="An earlier model: matching segments keep its ids, names, strategies."),
    ] = None,
    transactions: Annotated[bool, typer.Option(
        "--transactions", help="DATA is a transaction log (a file, or a folder or a glob "
                               "of its files): aggregate it to customers (as custseg rfm, "
                               "in memory) and segment them.")] = False,
    customer: LogCustomer = None,
    date: LogDate = None,
    invoice: LogInvoice = None,
    amount: LogAmount = None,
    quantity: LogQuantity = None,
    price: LogPrice = None,
    as_of: AsOf = None,
    memory_limit: Annotated[str | None, typer.Option(
        "--memory-limit", help="With --transactions: memory for the log's aggregation "
                               "(default 350MB; such as 2GB).")] = None,
    force: Force = False,
    as_json: AsJson = False,
) -> None:
    """Fit a segmentation and save it as a model file."""
    from custseg.api import fit as fit_data
    from custseg.io.model_files import load_model, save_model
    from custseg.io.rulebooks import load_rulebook
    from custseg.table.derive import parse_derivation
    from custseg.table.spec import parse_assignments
    from custseg.table.transactions import given_columns

    # every option is checked before the table is read
    params, sample, ranges = _parse_params(param), _parse_sample_size(sample_size), \
        _parse_ranges(range_)
    transforms = parse_assignments(transform, "--transform", "transforms")
    # with --transactions, --date-format is the log's date column's (FORMAT or COLUMN=FORMAT)
    formats = None if transactions else _parse_date_formats(date_format)
    for text in derive or ():
        parse_derivation(text)  # a bad expression is refused before the table is read
    inputs = (data, rules, reference)
    log_options = given_columns(customer, date, invoice, amount, quantity, price)
    if not transactions:
        given = [f"--{k}" for k, v in {**log_options, "as-of": as_of,
                                        "memory-limit": memory_limit}.items()
                 if v is not None]
        if given:
            raise ParameterError(f"{given[0]} is an option of a transaction log; add "
                                 "--transactions if DATA is one.")
    elif map_ or income_unit:
        raise ParameterError(f"{'--map' if map_ else '--income-unit'} reads a customer "
                             "table, not a transaction log; leave it out with "
                             "--transactions.")
    if transactions:
        from custseg.io.rfm import log_files

        # a folder or a glob of the log's files: the model is written over none of them
        _check_output(output, "model", force, *inputs, *(log_files(data) or ()))
    else:
        _check_output(output, "model", force, *inputs)
    old = load_model(reference) if reference is not None else None
    if transactions:
        from custseg.api import fit_transactions

        log_date, log_format = _log_date_format(date, date_format)
        log_options["date"] = log_date
        fitted = fit_transactions(
            _input_path(data), **log_options, as_of=as_of, date_format=log_format,
            limits=_limits(max_decompressed_mb, max_rows),
            memory_limit=memory_limit or DEFAULT_MEMORY_LIMIT, algorithm=algorithm.value,
            params=params, features=features, use_gender=use_gender, n_neighbors=neighbors,
            sample_size=sample, random_state=seed, ranges=ranges,
            rulebook=load_rulebook(rules), reference=old, derive=tuple(derive or ()),
            transforms=transforms, profile_by=profile_by, categorical=categorical)
        model = fitted.model
        save_model(model, output, inputs=inputs, force=force)
        for message in model.warnings:
            _err(f"warning: {message}")
        summary = model.summary()
        if as_json:
            _print_json({**summary, **fitted.log.summary.to_json_dict()})
        else:
            _print_log_summary(fitted.log.summary)
            _out(f"customers: {fitted.log.summary.customers:,}")
            _print_summary(summary, model.base.categories)
        _err(f"model written to {output}")
        return
    table = _read(data, map_, income_unit, max_decompressed_mb, max_rows)
    model = fit_data(
        table,
        mapping=_parse_mapping(map_),
        algorithm=algorithm.value,
        params=params,
        features=features,
        use_gender=use_gender,
        n_neighbors=neighbors,
        sample_size=sample,
        random_state=seed,
        ranges=ranges,
        rulebook=load_rulebook(rules),
        reference=old,
        derive=tuple(derive or ()),
        transforms=transforms,
        date_formats=formats,
        profile_by=profile_by,
        categorical=categorical,
    )
    save_model(model, output, inputs=inputs, force=force)
    for message in model.warnings:
        _err(f"warning: {message}")
    summary = model.summary()
    if as_json:
        _print_json(summary)
    else:
        _print_summary(summary, model.base.categories)
    _err(f"model written to {output}")


@app.command()
def profile(model_path: ModelArg, as_json: AsJson = False) -> None:
    """Describe the segments of a saved model."""
    from custseg.io.model_files import load_model

    model = load_model(model_path)
    summary = model.summary()
    if as_json:
        _print_json(summary)
    else:
        _print_summary(summary, model.base.categories)


@app.command()
def predict(
    model_path: ModelArg,
    age: Annotated[float | None, typer.Option(help="Age in years.")] = None,
    annual_income: Annotated[float | None, typer.Option(help="Annual income in k$.")] = None,
    spending_score: Annotated[float | None, typer.Option(help="Spending score, 1–100.")] = None,
    gender: Annotated[str | None, typer.Option(help="Gender (needed if the model uses it).")] = None,
    value: Annotated[
        list[str] | None,
        typer.Option("--value", help="COLUMN=VALUE for the model's other input columns, as "
                     "in the fitted file (repeatable)."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Assign one customer to a segment."""
    from custseg.api import input_names, predict_one
    from custseg.io.model_files import load_model

    model = load_model(model_path)
    values = _parse_values(value, input_names(model))
    result = predict_one(
        model, age=age, annual_income=annual_income, spending_score=spending_score,
        gender=gender, values=values,
    )
    if as_json:
        _print_json(result)
        return
    _out(f"Segment {result['segment_id']}: {result['segment_name']}")
    if result["segment_id"] == RETURNS_ONLY:
        _out("Placed by rule: no purchase, returns only (no recency to compare with other "
             "customers)")
        _out(f"Strategy: {model.segment(RETURNS_ONLY).strategy}")
        return
    unfitted = model.unfitted_segment(result["segment_id"])
    strategy = unfitted["strategy"] if unfitted else model.segment(result["segment_id"]).strategy
    if unfitted:
        _out("(No fitted customer was in this segment of the RFM score map.)")
    _out(f"Confidence: {result['confidence']:.0%} of the {model.config.n_neighbors} "
               "nearest known customers agree")
    if result["atypical"]:
        _out("Atypical: this customer is unlike any known customer; treat the "
                   "assignment with care.")
    _out(f"Strategy: {strategy}")


@app.command()
def score(
    model_path: ModelArg,
    input_path: Annotated[
        str,
        typer.Argument(metavar="INPUT", help="Customer table to score (a file or a pipe; '-' "
                       "reads standard input); with --engine dask, also a folder or a glob "
                       "of files."),
    ],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="Scored file (.csv/.parquet); with --engine dask, "
                     "a new folder of parts (Parquet when it ends in .parquet)."),
    ],
    engine: Annotated[Engine, typer.Option(help="local or dask.")] = Engine.local,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (default: a local cluster).")
    ] = None,
    map_: MapOpt = None,
    income_unit: IncomeUnit = None,
    batch_rows: Annotated[
        int, typer.Option(help="Rows per batch.", min=1_000, max=1_000_000)
    ] = 250_000,
    max_decompressed_mb: MaxDecompressedMb = DEFAULT_MAX_DECOMPRESSED_MB,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_of: AsOf = None,
    memory_limit: Annotated[str | None, typer.Option(
        "--memory-limit", help="With a transaction log: memory for its aggregation "
                               "(default 350MB; such as 2GB).")] = None,
    force: Force = False,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print a summary as JSON: rows, invalid, atypical, rows per segment "
                       "and each feature's drift (PSI) from the customers fitted.")] = False,
) -> None:
    """Score every row of a table: segment, confidence, atypical flag, row status.

    With a model fitted on a transaction log's customers, INPUT may be a new log: it is
    aggregated as the fit's log was, and each of its customers scored. A feature whose
    population stability index (PSI) against the customers fitted is above 0.25 is
    said in a warning."""
    from custseg.io.model_files import load_model

    if scheduler is not None and engine is not Engine.dask:
        raise ParameterError("--scheduler only applies with --engine dask.")
    if engine is Engine.dask and input_path == "-":
        raise ParameterError(
            "'-' (standard input) cannot be scored with --engine dask: its workers read "
            "the input by name, in other processes, which have standard inputs of their "
            "own. Save it to a file, or score it with --engine local."
        )
    input_path = str(_input_path(input_path))
    if engine is Engine.dask:
        _regular_file_only(input_path, "the Dask engine reads its input by name, in other "
                           "processes, and a pipe can be read only once. Save it to a "
                           "file, or score it with --engine local, which reads pipes.")
    if engine is Engine.local:
        from custseg.io.rfm import log_files
        from custseg.io.writers import output_format

        output_format(output)
        # a folder or a glob (of a log's files): the output is written over none of them
        _check_output(output, "table", force, model_path, input_path,
                      *(log_files(input_path) or ()))
    model = load_model(model_path)
    mapping = _parse_mapping(map_)
    kind = _score_input_kind(model, input_path, max_decompressed_mb)
    if kind == "log":
        if engine is Engine.dask:
            raise ParameterError("--engine dask scores customer tables; score a transaction "
                                 "log with --engine local (or its custseg rfm table with "
                                 "--engine dask).")
        if mapping or income_unit:
            raise ParameterError(f"{'--map' if mapping else '--income-unit'} reads a "
                                 "customer table; INPUT is a transaction log.")
        from custseg.io.logs import score_log_file

        with _progress(quiet) as progress:
            report = score_log_file(model, input_path, output, as_of=as_of,
                                    limits=_limits(max_decompressed_mb), force=force,
                                    memory_limit=memory_limit or DEFAULT_MEMORY_LIMIT,
                                    progress=progress)
        _print_log_summary(report.log, err=as_json)  # --json: stdout is the JSON alone
        _err(f"input read as a transaction log: {report.log.customers:,} customers from "
             f"{report.log.used:,} lines")
        _err(f"scored {report.n_rows:,} customers ({report.n_invalid:,} invalid, "
             f"{report.n_atypical:,} atypical) in {report.seconds:.1f} s -> {report.output}")
        _score_signals(model, report, as_json)
        return
    for flag, value in (("--as-of", as_of), ("--memory-limit", memory_limit)):
        if value is not None:
            raise ParameterError(f"{flag} applies to a transaction log; INPUT is read as a "
                                 "customer table.")
    if kind == "table":
        _err("input read as a customer table (one row per customer)")
    if engine is Engine.dask:
        from custseg.io.dask_engine import score_dask

        with _progress(quiet) as progress:
            report = score_dask(model, input_path, output, scheduler=scheduler, mapping=mapping,
                                income_unit=income_unit, batch_rows=batch_rows,
                                limits=_limits(max_decompressed_mb), progress=progress)
    else:
        from custseg.io.score_files import score_file

        with _progress(quiet) as progress:
            report = score_file(model, input_path, output, mapping=mapping,
                                income_unit=income_unit, batch_rows=batch_rows,
                                progress=progress, limits=_limits(max_decompressed_mb),
                                force=force)
    for message in report.warnings:
        _err(f"warning: {message}")
    _err(
        f"scored {report.n_rows:,} rows ({report.n_invalid:,} invalid, "
        f"{report.n_atypical:,} atypical) in {report.seconds:.1f} s -> {report.output}"
    )
    _score_signals(model, report, as_json)


def _score_signals(model: Any, report: Any, as_json: bool) -> None:
    """After a scoring run: the drift warning on stderr when a feature's PSI is above
    0.25, and with ``--json`` the run's summary on stdout."""
    warning = report.drift_warning()
    if warning:
        _err(f"warning: {warning}")
    if as_json:
        summary = report.summary(model)
        if hasattr(report, "input_kind"):  # a transaction log's run: how it was read
            summary["input"] = report.input_kind
        _print_json(summary)


def _score_input_kind(model: Any, input_path: str, max_decompressed_mb: int) -> str | None:
    """``"log"`` or ``"table"`` for a model fitted on a log's customers (which reads
    both), None for any other model (which reads tables only). Only a file named by
    its path is looked at: a pipe is read once, as a table."""
    from custseg.io.logs import header_of, input_kind, reads_logs
    from custseg.io.rfm import log_files

    if not reads_logs(model):
        return None
    path = Path(input_path)
    files = log_files(input_path) if not path.is_file() else None
    if files:  # a folder or a glob: its files are one log's, or one table's parts
        path = files[0]
    if not path.is_file():
        return "table"
    return input_kind(model, header_of(path, _limits(max_decompressed_mb)))


@app.command()
def suggest(
    data: DataArg,
    algorithm: AlgorithmOpt = Algorithm.kmeans,
    param: Params = None,
    features: Features = None,
    derive: Derive = None,
    transform: Transform = None,
    date_format: DateFormatOpt = None,
    use_gender: UseGender = False,
    categorical: Categorical = None,
    seed: Seed = 0,
    map_: MapOpt = None,
    income_unit: IncomeUnit = None,
    range_: RangeOpt = None,
    max_decompressed_mb: MaxDecompressedMb = DEFAULT_MAX_DECOMPRESSED_MB,
    max_rows: MaxRows = None,
    as_json: AsJson = False,
) -> None:
    """Suggest parameters for an algorithm (number of segments, eps…) with a reason."""
    from custseg.api import suggest as suggest_for
    from custseg.table.derive import parse_derivation
    from custseg.table.spec import parse_assignments

    params, ranges = _parse_params(param), _parse_ranges(range_)
    transforms = parse_assignments(transform, "--transform", "transforms")
    for text in derive or ():
        parse_derivation(text)
    result = suggest_for(_read(data, map_, income_unit, max_decompressed_mb, max_rows),
                         algorithm=algorithm.value, params=params, features=features,
                         use_gender=use_gender, random_state=seed, ranges=ranges,
                         derive=tuple(derive or ()), transforms=transforms,
                         date_formats=_parse_date_formats(date_format),
                         categorical=categorical)
    if as_json:
        _print_json({"recommended": result.recommended, "table": result.table,
                     "reason": result.reason, "warnings": result.warnings,
                     "n_rows": result.n_rows, "sample_rows": result.sample_rows})
        return
    from custseg.model.summaries import settings_text

    _out(settings_text(result.algorithm, result.recommended)
         + ("" if result.recommended else " (no settings)"))
    _out(f"why: {result.reason}")
    if result.sample_rows:  # none when there is nothing to search
        _out(f"rows: {result.n_rows:,} valid customers"
             + (f", settings tried on a random sample of {result.sample_rows:,}"
                if result.sample_rows < result.n_rows else ", all used"))
    for warning in result.warnings:
        _err(f"warning: {warning}")


@app.command("inspect")
def inspect_table(
    data: DataArg,
    map_: MapOpt = None,
    income_unit: IncomeUnit = None,
    date_format: DateFormatOpt = None,
    max_decompressed_mb: MaxDecompressedMb = DEFAULT_MAX_DECOMPRESSED_MB,
    max_rows: MaxRows = None,
    as_json: AsJson = False,
) -> None:
    """Describe each column (kind, role, unit, missing, skew) and what to segment on."""
    from custseg.api import inspect as inspect_data

    formats = _parse_date_formats(date_format)  # every option is checked before reading
    result = inspect_data(data, mapping=_parse_mapping(map_), income_unit=income_unit,
                          date_formats=formats, limits=_limits(max_decompressed_mb, max_rows))
    if as_json:
        _print_json(result.to_json_dict())
    else:
        _print_inspection(result)
    for message in result.warnings:
        _err(f"warning: {message}")


@app.command()
def compare(
    old_path: Annotated[Path, typer.Argument(metavar="OLD", help="The earlier model file.")],
    new_path: Annotated[Path, typer.Argument(metavar="NEW", help="The newer model file.")],
    data: Annotated[Path, typer.Option(help="Customers to place in both models.")],
    map_: MapOpt = None,
    income_unit: IncomeUnit = None,
    max_decompressed_mb: MaxDecompressedMb = DEFAULT_MAX_DECOMPRESSED_MB,
    max_rows: MaxRows = None,
    as_json: AsJson = False,
) -> None:
    """Match two models' segments and count how customers moved between them."""
    from custseg.api import compare_models
    from custseg.io.model_files import load_model

    old, new = load_model(old_path), load_model(new_path)
    result = compare_models(old, new,
                            _read(data, map_, income_unit, max_decompressed_mb, max_rows,
                                  (old, new)))
    if as_json:
        _print_json(result)
        return
    for pair in result["matching"]:
        _out(f"old {pair['old']} {pair['old_name']}  ->  new {pair['new']} "
                   f"{pair['new_name']}  (centres {pair['distance']:.2f} SD apart)")
    for seg in result["unmatched_old"]:
        _out(f"old {seg['id']} {seg['name']}: no counterpart")
    for seg in result["unmatched_new"]:
        _out(f"new {seg['id']} {seg['name']}: new segment")
    mig = result["migration"]
    _out(f"{mig['stayed_share']:.1%} of {mig['customers']:,} customers stay in the "
               "matching segment.")


@app.command()
def report(
    model_path: ModelArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="HTML file to write.", parser=_file_output)],
    data: Annotated[
        Path | None, typer.Option(help="Customers to chart (scatter, distributions).")
    ] = None,
    map_: MapOpt = None,
    income_unit: IncomeUnit = None,
    max_decompressed_mb: MaxDecompressedMb = DEFAULT_MAX_DECOMPRESSED_MB,
    max_rows: MaxRows = None,
    force: Force = False,
) -> None:
    """Write a self-contained HTML report of a model (works offline)."""
    import datetime as dt

    from custseg.api import report_html
    from custseg.io.model_files import load_model
    from custseg.io.writers import write_text

    _check_output(output, "report", force, model_path, data)
    model = load_model(model_path)
    table = (None if data is None
             else _read(data, map_, income_unit, max_decompressed_mb, max_rows, (model,)))
    text = report_html(model, table, generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
                       source=Path(data).name if data else "")
    write_text(text, output, model_path, data, kind="report", force=force)
    _err(f"report written to {output}")


@app.command()
def rules(
    output: Annotated[Path, typer.Option("-o", "--output", help="TOML file to write.", parser=_file_output)],
    model_path: Annotated[
        Path | None, typer.Argument(metavar="[MODEL]", help="Export this model's rulebook.")
    ] = None,
    force: Force = False,
) -> None:
    """Export a rulebook as TOML (the built-in one, or a model's) to edit and reuse."""
    from custseg.io.writers import write_text

    _check_output(output, "rulebook", force, model_path)
    if model_path:
        from custseg.io.model_files import load_model

        book = load_model(model_path).rulebook
    else:
        from custseg.io.rulebooks import default_rulebook

        book = default_rulebook()
    write_text(book.to_toml(), output, model_path, kind="rulebook", force=force)
    _err(f"rulebook written to {output}; use it with custseg fit --rules {output}")


@app.command("app")
def run_app(
    data: Annotated[Path | None, typer.Option(help="Customer table to open.")] = None,
    port: Annotated[int, typer.Option(help="Port to serve on.", min=1, max=65535)] = 8501,
    address: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
) -> None:
    """Open the dashboard (on the built-in demo data unless --data is given).

    This process becomes the Streamlit server (exec), so a signal sent to it (Ctrl+C,
    SIGTERM from a supervisor) stops the server itself; nothing is left running.
    """
    from importlib.resources import files

    env = dict(os.environ)
    if data is not None:
        from custseg.io.source import TableSource

        _regular_file_only(data, "the dashboard reads its --data file again on every "
                           "session, and a pipe can be read only once. Save it to a file "
                           "and give that.")
        # refuse an unreadable file here, with a clear message (its header's fields are
        # the dashboard's to match: the file may be a transaction log)
        TableSource(data, customer_fields=False).close()
        env["CUSTSEG_DATA"] = str(Path(data).resolve())
    _check_port(address, port)
    entry = Path(str(files("custseg").joinpath("app", "streamlit_app.py")))
    command = [
        sys.executable, "-m", "custseg.app.launch", "run", str(entry),
        "--server.port", str(port),
        "--server.address", address,
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]
    _err(f"custseg dashboard on http://{address}:{port}  (Ctrl+C to stop)")
    # Run beside the app so Streamlit reads its .streamlit/config.toml (theme, limits).
    if os.name != "posix":  # no exec there: run it as a child, which Ctrl+C reaches too
        raise typer.Exit(subprocess.call(command, env=env, cwd=entry.parent))
    os.chdir(entry.parent)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, command, env)


#: The environment variable names ``--api-key-env`` takes (a shell's).
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@app.command("serve")
def serve(
    model_path: ModelArg,
    host: Annotated[str, typer.Option(help="Address to bind (0.0.0.0: every network "
                                           "interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on (0: any free port, printed at "
                                           "start).", min=0, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes, each with the model "
                                              "loaded.", min=1, max=64)] = 1,
    api_key_env: Annotated[str | None, typer.Option(
        "--api-key-env", metavar="VAR",
        help="Require an API key on /v1/ requests: the value of this environment variable "
             "(never given on the command line).")] = None,
    max_rows: Annotated[int, typer.Option(help="Most customers in one /v1/predict request.",
                                          min=1, max=1_000_000)] = 10_000,
    max_body_mb: Annotated[int, typer.Option(help="Largest /v1/score body (the file as sent), "
                                                  "in MB.", min=1, max=1_000_000)] = 200,
    max_json_mb: Annotated[int, typer.Option(help="Largest /v1/predict body, in MB (JSON is "
                                                  "parsed in memory).", min=1,
                                             max=1_000_000)] = 16,
    max_decompressed_mb: MaxDecompressedMb = DEFAULT_MAX_DECOMPRESSED_MB,
    timeout: Annotated[int, typer.Option(help="Seconds a client may pause while sending a "
                                              "request or reading a response; then it is "
                                              "cut off (408).", min=1, max=3_600)] = 30,
) -> None:
    """Serve a model over HTTP: /health, /v1/model, /v1/predict, /v1/score, /docs.

    The model is loaded once; this process becomes the server (exec), so SIGTERM from a
    supervisor reaches it: requests in flight are answered, then it exits 0.
    """
    import importlib.util

    missing = [m for m in ("fastapi", "uvicorn", "fastapi_offline")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise ParameterError(
            f"custseg serve needs {', '.join(missing)}, which are not installed; install "
            "the serve extra: pip install 'custseg[serve]' (make setup does)")
    if api_key_env is not None and not _ENV_NAME.fullmatch(api_key_env):
        raise ParameterError(f"--api-key-env {shown(api_key_env)} is not an environment "
                             "variable name; give the name (such as CUSTSEG_API_KEY), not "
                             "the key itself")
    if workers > 1:
        _regular_file_only(model_path, "each worker loads the model file again, and a pipe "
                           "can be read only once. Save it to a file and give that.")
    command = [sys.executable, "-m", "custseg.service", str(model_path), "--host", host,
               "--port", str(port), "--workers", str(workers), "--max-rows", str(max_rows),
               "--max-body-mb", str(max_body_mb), "--max-json-mb", str(max_json_mb),
               "--max-decompressed-mb", str(max_decompressed_mb), "--timeout", str(timeout)]
    if api_key_env is not None:
        command += ["--api-key-env", api_key_env]
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name != "posix":  # no exec there: run it as a child, which Ctrl+C reaches too
        raise typer.Exit(subprocess.call(command))
    os.execve(sys.executable, command, dict(os.environ))


def _check_port(address: str, port: int) -> None:
    """Refuse a port already in use before Streamlit starts (it would exit 1 with its
    own message).

    The probe binds as Streamlit's server does: one socket for ``address`` (IPv6 when it
    has a colon, dual-stack; else IPv4), with SO_REUSEADDR; and 127.0.0.1 as well when
    ``address`` is a loopback or wildcard address, which serves it too.
    """
    import errno
    import ipaddress
    import socket

    if address.startswith("unix://"):
        return  # a Unix socket: no port
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        found = socket.getaddrinfo(address or None, port, family, socket.SOCK_STREAM, 0,
                                   socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ParameterError(
            f"--address {shown(address)} is not an address this machine can serve on "
            f"({getattr(exc, 'strerror', None) or exc}); use 127.0.0.1, or 0.0.0.0 for every "
            "network interface."
        ) from None
    targets = [(family, found[0][4])]
    try:
        ip = ipaddress.ip_address(str(found[0][4][0]).split("%")[0])
    except ValueError:
        ip = None
    if ip is not None and (ip.is_loopback or ip.is_unspecified):
        targets.append((socket.AF_INET, ("127.0.0.1", port)))
    # a name (localhost) may be reached at its IPv6 address as well: a browser may try ::1
    # first, and find another program there; only "in use" counts for these extra probes
    extra = []
    if ip is not None and ip.is_loopback or _is_name(address):
        extra.append((socket.AF_INET6, ("::1", port, 0, 0)))
    for target_family, sockaddr in targets + extra:
        problem = _bind_problem(target_family, sockaddr)
        if problem is None or (problem != errno.EADDRINUSE
                               and (target_family, sockaddr) in extra):
            continue
        if problem == errno.EADDRINUSE:
            raise ParameterError(f"port {port} is in use; choose another with --port.")
        if problem == errno.EACCES:
            raise ParameterError(
                f"port {port} needs administrator rights here; choose one above 1023 with "
                "--port."
            )
        raise ParameterError(
            f"--address {shown(address)} is not an address this machine can serve on "
            f"({os.strerror(problem)}); use 127.0.0.1, or 0.0.0.0 for every network interface."
        )


def _is_name(address: str) -> bool:
    """Whether ``address`` is a host name rather than an IP address."""
    import ipaddress

    try:
        ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return bool(address)
    return False


def _bind_problem(family: int, sockaddr: tuple) -> int | None:
    """The errno of binding a socket as Streamlit does, or None if it binds."""
    import socket

    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            if os.name != "nt":
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                only_v6 = sockaddr[0] not in ("", "::")  # a wildcard serves IPv4 too
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(only_v6))
            probe.bind(sockaddr)
    except OSError as exc:
        return exc.errno or -1
    return None


# ------------------------------------------------------------------------ output


class _progress:
    """A progress bar on stderr (silent when stderr is not a terminal or --quiet)."""

    def __init__(self, quiet: bool) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self._bar = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("scoring"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} rows"),
            TimeRemainingColumn(), console=Console(stderr=True), transient=True,
        )
        self._bar.start()
        task = self._bar.add_task("score", total=None)

        def update(done: int, total: int) -> None:
            self._bar.update(task, completed=done, total=total)

        return update

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _parse_values(items: list[str] | None, names: list[str]) -> dict[str, str]:
    """``--value COLUMN=VALUE`` items. A header may hold "=" itself: the split is after
    the longest start of the item that is a column the model reads, else at the first
    "="."""
    from custseg.table.spec import parse_assignments

    out: dict[str, str] = {}
    for item in items or ():
        text = str(item)
        known = [n for n in names if text.startswith(n + "=")]
        if known:
            name = max(known, key=len)
            if name in out:
                raise ParameterError(f"--value gives {shown(name)} twice.", parameter="values")
            out[name] = text[len(name) + 1:].strip()
        else:
            for name, value in parse_assignments([text], "--value", "values").items():
                if name in out:
                    raise ParameterError(f"--value gives {shown(name)} twice.",
                                         parameter="values")
                out[name] = value
    return out


#: The most features the printed segment table has columns for (--json has them all).
TABLE_FEATURES = 6


def _print_summary(summary: dict[str, Any],
                   base_categories: Mapping[str, Mapping[str, float]] | None = None) -> None:
    from custseg.model.summaries import features_text, settings_text
    from custseg.table.fields import NUMERIC_FIELDS, UNITS, fmt_number, telling_digits

    quality = summary["data_quality"]
    m = summary["metrics"]
    _out(f"{settings_text(summary['algorithm'], summary['params'])} on "
         f"{features_text(summary['features'], bool(summary.get('use_gender')))}"
         + "".join(f" + {name} (categories)" for name in summary.get("categorical", ())))
    _out(f"rows used: {quality['n_used']:,} of {quality['n_input']:,}"
               + (f" ({quality['n_invalid']:,} invalid)" if quality["n_invalid"] else "")
               + (f"; {quality['n_returns_only']:,} with returns only set apart (segment -2)"
                  if quality.get("n_returns_only") else "")
               + (f"; clusterer fitted on a sample of {summary['sample_size']:,}"
                  if summary["sample_size"] < quality["n_used"] else ""))
    for reason, count in quality["reasons"].items():
        _out(f"  {count:,} rows: {reason}")

    def f(value: Any, digits: int = 2) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    def mean_text(mean: float, digits: int) -> str:
        # a mean of 9e-07 or 0.03 is not "0"; past 10^16 in significant digits
        if abs(mean) < 0.05 or abs(mean) >= 1e16 or not math.isfinite(mean):
            return fmt_number(mean) if digits <= 1 else f"{mean:.{digits + 2}g}"
        text = f"{mean:,.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text

    def cell(segment: dict[str, Any], field: str, digits: int) -> str:
        mean = segment["means"].get(field)
        shown_mean = "-" if mean is None else mean_text(mean, digits)
        return f"{shown_mean} {segment['levels'].get(field, '')}"

    fid = m.get("fidelity", {})
    _out(
        f"silhouette {f(m['silhouette'])} · Davies–Bouldin {f(m['davies_bouldin'])} · "
        f"Calinski–Harabasz {f(m['calinski_harabasz'], 1)} · assigner agreement "
        f"{'n/a' if fid.get('cv_agreement') is None else format(fid['cv_agreement'], '.0%')}"
    )
    units = {x["name"]: x["unit"] for x in summary.get("features_spec", [])}
    shown_ = list(summary["features"])  # the clustered ones first, then the other fields
    shown_ += [x for x in NUMERIC_FIELDS if x not in shown_
               and any(x in s["means"] for s in summary["segments"])]
    fields, rest = shown_[:TABLE_FEATURES], shown_[TABLE_FEATURES:]
    def title(x: str) -> str:
        unit = UNITS.get(x) or units.get(x, "")
        return f"{x} ({unit})" if unit else x

    width = min(60, max([7, *(len(s["name"]) for s in summary["segments"])])) + 1
    # one decimal, more where segments' averages differ only further (12,345,678.23 and
    # .31 both read .2 and .3 at one decimal of a two-decimal column; 1e17 + 16,000)
    digits = {x: telling_digits([s["means"][x] for s in summary["segments"]
                                 if s["means"].get(x) is not None], 1, most=15,
                                form=mean_text)
              for x in fields}
    texts = {x: [cell(s, x, digits[x]) for s in summary["segments"]] for x in fields}
    # each column as wide as its widest cell: a share of 21.7% ran into 8,087,954,112,134.5
    widths = {x: max(24, len(title(x)[:24]) + 2, *(len(t) + 2 for t in texts[x]))
              for x in fields}
    head = f"{'id':>3}  {'segment':<{width}}{'size':>8}{'share':>8}" + "".join(
        f"{title(x)[:24]:>{widths[x]}}" for x in fields)
    _out(head)
    for i, s in enumerate(summary["segments"]):
        cells = "".join(f"{texts[x][i]:>{widths[x]}}" for x in fields)
        _out(f"{s['id']:>3}  {s['name'][:width - 1]:<{width}}{s['size']:>8,}{s['share']:>8.1%}"
             f"{cells}")
    if rest:
        _out(f"({len(rest)} more features, {', '.join(rest[:5])}{' …' if len(rest) > 5 else ''}: "
             "see --json)")
    _print_categories(summary["segments"], base_categories)


def _print_categories(segments: list[dict[str, Any]],
                      base: Mapping[str, Mapping[str, float]] | None = None) -> None:
    """Each segment's over-represented values of the columns it is profiled by
    ("Education = PhD: 31% vs 22% of everyone (1.4×)"); every share and lift is in
    ``--json``."""
    from custseg.segments.categories import category_fact, over_represented
    from custseg.table.text import terminal_safe

    if not any(s.get("categories") for s in segments):
        return
    columns = list(dict.fromkeys(c for s in segments for c in s.get("categories", {})))
    said = [(s, over_represented(s["categories"], s["size"])) for s in segments
            if s.get("categories")]
    listed = ", ".join(terminal_safe(c)[:40] for c in columns[:8]) + (
        " …" if len(columns) > 8 else "")
    if not any(found for _, found in said):
        _out(f"profiled by {listed}: no value stands out in any segment (every share and "
             "lift: --json)")
        return
    _out(f"profiled by {listed}; values over-represented in a segment (all: --json):")
    for s, found in said:
        if found:
            _out(f"{s['id']:>3}  {terminal_safe(s['name'])[:60]}: "
                 + "; ".join(category_fact(column, e, base) for column, e in found))


def _print_inspection(result: Any) -> None:
    """The inspection as a table, one line a column, then the suggestions."""

    def cut(text: object, width: int) -> str:
        text = "-" if text is None else str(text)
        return text if len(text) <= width else text[: width - 1] + "…"

    columns = result.columns
    width = min(32, max([len("column"), *(len(c.name) for c in columns)]))
    _out(f"{result.n_rows:,} rows, {len(columns):,} columns")
    _out(f"{'column':<{width}}  {'kind':<11} {'role':<14} {'unit':<6} {'missing':>8} "
         f"{'distinct':>9} {'skew':>7}  transform")
    for c in columns:
        skew = "-" if c.skew is None else f"{c.skew:.2f}"
        notes = []
        if c.year:
            notes.append("year")
        if c.date_format is not None:
            notes.append(c.date_format.pattern)
        if c.invalid:
            notes.append(f"{c.invalid:,} invalid")
        _out(f"{cut(c.name, width):<{width}}  {c.kind:<11} {c.role:<14} {cut(c.unit, 6):<6} "
             f"{c.missing:>8.1%} {c.distinct:>9,} {skew:>7}  {c.transform}"
             + (f"  ({', '.join(notes)})" if notes else ""))
    _out("suggested features: " + (", ".join(result.suggested_features) or "none"))
    if result.suggested_derivations:
        _out("suggested derivations:")
        for line in result.suggested_derivations:
            _out(f"  {line}")
    _out("profile by: " + (", ".join(result.profile_by) or "none"))


# -------------------------------------------------------------------------- entry


class _Stopped(BaseException):
    """A stop signal (SIGINT, SIGTERM, SIGHUP) raised where the program is, so that every
    ``finally`` and cleanup runs: temporary files go, no output is half written.

    A BaseException, so that no ``except Exception`` swallows it and Click does not turn
    it into its "Aborted!"."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


#: The signals that stop a command with cleanup; exit code 128 + the signal's number.
_STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


@contextlib.contextmanager
def _stop_signals_raise():
    """While in the block, a stop signal raises :class:`_Stopped` (once: a second signal
    during the cleanup stops the process at once, as a second Ctrl+C should)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [getattr(signal, name) for name in _STOP_SIGNALS if hasattr(signal, name)]
    previous = {}

    def stop(signum: int, frame: object) -> None:
        for each in previous:
            signal.signal(each, signal.SIG_DFL)
        raise _Stopped(signum)

    for each in wanted:
        old = signal.getsignal(each)
        if old is signal.SIG_IGN or old is None:  # ignored on purpose (nohup), or not Python's
            continue
        previous[each] = old
        signal.signal(each, stop)
    try:
        yield
    finally:
        for each, old in previous.items():
            signal.signal(each, old)


def _exit_now(code: int) -> None:
    """End the process after the exit handlers (temporary files go), skipping the
    interpreter's shutdown: native threads a stop left half-way (pyarrow's readers, on
    Python file objects) abort the process when shut down under."""
    import atexit

    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is not None:
        run_exit_handlers()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _free_abandoned() -> None:
    """Free what a stop left half-way (readers, sources and their temporary copies) now,
    while the interpreter is whole: they sit in reference cycles with the traceback."""
    import gc

    gc.collect()


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (never raises for user errors).

    Exit codes: 0 success, 2 a user error (one ``error:`` line), 1 an internal error,
    128 + N when stopped by signal N (130 Ctrl+C, 143 SIGTERM, 129 SIGHUP) after cleaning
    up.
    """
    command = typer.main.get_command(app)
    try:
        with warnings.catch_warnings(), _stop_signals_raise():
            warnings.simplefilter("ignore")
            result = command.main(args=argv, prog_name="custseg", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except _Stopped as exc:
        import signal

        _free_abandoned()
        _err(f"error: stopped by {signal.Signals(exc.signum).name}; nothing half-written "
             "was left behind.")
        if argv is None:  # the program itself, not a caller in Python
            _exit_now(128 + exc.signum)
        return 128 + exc.signum
    except typer.Abort:  # Click's word for a KeyboardInterrupt it caught
        _err("error: interrupted")
        return 130
    except CustsegError as exc:
        _err(f"error: {exc.render(cli_spelling)}")
        return 2
    except KeyboardInterrupt:
        _err("error: interrupted")
        return 130
    except MemoryError:  # a last resort: fits estimate their memory and refuse first
        _err("error: out of memory: this request needs more memory than is free; use fewer "
             "rows (a smaller --sample-size) or settings that find fewer, tighter groups.")
        return 2
    except OSError as exc:  # the file system said no: a permission, a full disk…
        where = f" ({exc.filename})" if exc.filename else ""
        _err(f"error: {exc.strerror or exc}{where}; check the path and its permissions.")
        return 2
    except Exception as exc:
        if _is_usage_error(exc):
            # Typer checks values with pydantic, which words a refused choice
            # "Value error, 'x' is not one of ..."; the user needs only the second half.
            message = exc.format_message().replace(": Value error, ", ": ", 1)
            _err(f"error: {message} (see custseg --help)")
            return 2
        if os.environ.get("CUSTSEG_DEBUG"):
            raise
        _err(f"error: internal error ({type(exc).__name__}: {exc}). Please report it; "
             "run with CUSTSEG_DEBUG=1 for details.")
        return 1


#: Library parameter -> the flag that sets it (see CustsegError.render).
FLAGS = {
    "mapping": "--map",
    "income_unit": "--income-unit",
    "ranges": "--range",
    "max_decompressed_mb": "--max-decompressed-mb",
    "max_rows": "--max-rows",
    "use_gender": "--use-gender",
    "features": "--features",
    "categorical": "--categorical",
    "derivations": "--derive",
    "transforms": "--transform",
    "values": "--value",
    "params": "--param",
    "sample_size": "--sample-size",
    "rules": "--rules",
    "n_neighbors": "--neighbors",
    "random_state": "--seed",
    "force": "--force",
    "scheduler": "--scheduler",
    "date_formats": "--date-format",
    "profile_by": "--profile-by",
    "customer": "--customer",
    "date": "--date",
    "invoice": "--invoice",
    "amount": "--amount",
    "quantity": "--quantity",
    "price": "--price",
    "as_of": "--as-of",
    "memory_limit": "--memory-limit",
}


def cli_spelling(parameter: str, key: str | None) -> str | None:
    """How the command line says "change this setting"."""
    flag = FLAGS.get(parameter)
    if flag is None:
        return None
    if key is None:
        return flag
    if parameter == "mapping":
        return f'{flag} {key}="COLUMN"'
    if parameter == "ranges":
        return f"{flag} {key}=LOW:HIGH"
    if parameter == "date_formats":
        return f"{flag} {shlex.quote(key + '=FORMAT')}"
    return f"{flag} {shlex.quote(key)}"


def _is_usage_error(exc: Exception) -> bool:
    """Typer's (vendored click) usage errors: bad options, missing arguments."""
    return callable(getattr(exc, "format_message", None)) and getattr(exc, "exit_code", 0) == 2


if __name__ == "__main__":
    sys.exit(main())
