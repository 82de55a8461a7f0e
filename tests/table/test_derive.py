from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from custseg.errors import SchemaError
from custseg.table.derive import (
    DATE_FUNCTIONS,
    FUNCTIONS,
    MAX_DEPTH,
    Binary,
    Call,
    Column,
    DateLiteral,
    DateValues,
    Derivation,
    DeriveError,
    Glob,
    Number,
    Unary,
    columns_used,
    date_columns,
    evaluate,
    parse_derivation,
    parse_expression,
    resolve,
    to_text,
)

A, B, C = Column("a"), Column("b"), Column("c")


def days(*isos: str | None) -> np.ndarray:
    """Day numbers since 1970-01-01 as the caller gives them (NaN for None)."""
    return np.array([np.nan if iso is None else (dt.date.fromisoformat(iso) - dt.date(1970, 1, 1))
                     .days for iso in isos], dtype=np.float64)


def year_days(*years: int | None) -> np.ndarray:
    return days(*(None if y is None else f"{y:04d}-01-01" for y in years))


def run(text: str, columns: dict[str, list[float]] | None = None,
        date_values: dict[str, DateValues] | None = None,
        as_of: dt.date = dt.date(2014, 6, 30)):
    columns = columns or {}
    date_values = date_values or {}
    n = len(next(iter({**columns, **{k: v.days for k, v in date_values.items()}}.values())))
    numbers = {name: np.array(values, dtype=np.float64) for name, values in columns.items()}
    return evaluate(resolve(parse_expression(text), list(numbers) + list(date_values)),
                    numbers.__getitem__, date_values.__getitem__, as_of, n)


# --------------------------------------------------------------------------------------------
# Parsing and canonical text


@pytest.mark.parametrize(
    ("text", "name", "expr", "canonical"),
    [
        ("age = years_since(Year_Birth)", "age", Call("years_since", (Column("Year_Birth"),)),
         "age = years_since(Year_Birth)"),
        ("total_spend = sum(`Mnt*`)", "total_spend", Call("sum", (Glob("Mnt*"),)),
         "total_spend = sum(`Mnt*`)"),
        ("children = Kidhome + Teenhome", "children",
         Binary("+", Column("Kidhome"), Column("Teenhome")), "children = Kidhome + Teenhome"),
        ('tenure = days_since(Dt_Customer, "2014-12-31")', "tenure",
         Call("days_since", (Column("Dt_Customer"), DateLiteral(dt.date(2014, 12, 31)))),
         'tenure = days_since(Dt_Customer, "2014-12-31")'),
        ("ratio = PURCHASES / (PAYMENTS + 1)", "ratio",
         Binary("/", Column("PURCHASES"), Binary("+", Column("PAYMENTS"), Number(1))),
         "ratio = PURCHASES / (PAYMENTS + 1)"),
        ("net=`Net $`-`Tax (k$)`", "net", Binary("-", Column("Net $"), Column("Tax (k$)")),
         "net = `Net $` - `Tax (k$)`"),
        ("  spaced name  =\t log1p( Income )  ", "spaced name", Call("log1p", (Column("Income"),)),
         "spaced name = log1p(Income)"),
        ("q=`a``b` + ````", "q", Binary("+", Column("a`b"), Column("`")), "q = `a``b` + ````"),
        ("p=`x=y`*2", "p", Binary("*", Column("x=y"), Number(2)), "p = `x=y` * 2"),
        ("m=mean(`Mnt*`, `Num?Purchases`, Income)", "m",
         Call("mean", (Glob("Mnt*"), Glob("Num?Purchases"), Column("Income"))),
         "m = mean(`Mnt*`, `Num?Purchases`, Income)"),
    ],
)
def test_examples_parse_and_print_canonically(text, name, expr, canonical):
    derivation = parse_derivation(text)
    assert derivation == Derivation(name, expr)
    assert derivation.text == canonical
    assert parse_derivation(canonical) == derivation
    assert hash(parse_derivation(canonical)) == hash(derivation)


def test_backticked_identifier_is_the_same_column_and_prints_bare():
    assert parse_expression("`Income` + Income") == Binary("+", Column("Income"), Column("Income"))
    assert to_text(parse_expression("`Income`")) == "Income"


def test_headers_are_taken_exactly_as_written_inside_backticks():
    assert parse_expression("` Net $ `") == Column(" Net $ ")
    assert parse_expression("`Année`") == Column("Année")
    assert to_text(Column("Année")) == "`Année`"  # only ASCII identifiers are written bare
    assert to_text(Column("2nd")) == "`2nd`"


def test_backtick_escape_is_doubling():
    assert parse_expression("`a``b`") == Column("a`b")
    assert parse_expression("```x`") == Column("`x")
    assert parse_expression("`x```") == Column("x`")
    assert to_text(Column("a`b")) == "`a``b`"
    assert to_text(Column("``")) == "``````"
    assert parse_expression("``````") == Column("``")


def test_star_and_question_mark_are_escaped_with_a_backslash_in_a_header():
    assert parse_expression(r"sum(`Is VIP\?`)") == Call("sum", (Column("Is VIP?"),))
    assert parse_expression(r"`Rate\*` + 1") == Binary("+", Column("Rate*"), Number(1))
    assert to_text(Column("Rate*?")) == r"`Rate\*\?`"
    assert to_text(Column("a\\b")) == r"`a\\b`"
    assert parse_expression(r"`C:\temp`") == Column("C:\\temp")  # a lone backslash is itself
    assert parse_expression(r"sum(`a\\*`)") == Call("sum", (Glob(r"a\\*"),))  # \\ then a wildcard
    assert to_text(Glob(r"Rate\**")) == r"`Rate\**`"


def test_unary_minus_binds_tighter_than_multiplication():
    assert parse_expression("-a * b") == Binary("*", Unary("-", A), B)
    assert parse_expression("-(a * b)") == Unary("-", Binary("*", A, B))
    assert parse_expression("a * -b") == Binary("*", A, Unary("-", B))
    assert parse_expression("a--b") == Binary("-", A, Unary("-", B))
    assert parse_expression("--a") == Unary("-", Unary("-", A))
    assert to_text(Unary("-", Binary("*", A, B))) == "-(a * b)"
    assert to_text(Binary("-", A, Unary("-", B))) == "a - -b"


def test_standard_precedence_and_left_associativity():
    assert parse_expression("a - b - c") == Binary("-", Binary("-", A, B), C)
    assert parse_expression("a / b / c") == Binary("/", Binary("/", A, B), C)
    assert parse_expression("a + b * c") == Binary("+", A, Binary("*", B, C))
    assert parse_expression("(a + b) * c") == Binary("*", Binary("+", A, B), C)
    assert to_text(parse_expression("((a)) + (b * c)")) == "a + b * c"
    assert to_text(parse_expression("a - (b - c)")) == "a - (b - c)"
    assert to_text(parse_expression("a + (b + c)")) == "a + (b + c)"
    assert to_text(parse_expression("(a + b) + c")) == "a + b + c"


@pytest.mark.parametrize(
    ("text", "value", "canonical"),
    [("7", 7.0, "7"), ("2.50", 2.5, "2.5"), (".5", 0.5, "0.5"), ("5.", 5.0, "5"),
     ("1e3", 1000.0, "1000"), ("1E-3", 0.001, "0.001"), ("2.5e+2", 250.0, "250"),
     ("1e20", 1e20, "1e+20"), ("007", 7.0, "7")],
)
def test_numbers(text, value, canonical):
    assert parse_expression(text) == Number(value)
    assert to_text(Number(value)) == canonical


def test_a_function_name_alone_is_a_column_and_a_space_before_the_bracket_is_a_call():
    assert parse_expression("sum + 1") == Binary("+", Column("sum"), Number(1))
    assert parse_expression("sum (a)") == Call("sum", (A,))


def test_nodes_are_frozen_hashable_and_checked():
    tree = parse_expression("sum(a, b) / 2")
    assert {tree: 1}[parse_expression("sum(a,b)/2")] == 1
    with pytest.raises(AttributeError):
        tree.op = "*"
    with pytest.raises(ValueError, match="finite value >= 0"):
        Number(-1)
    with pytest.raises(ValueError, match="finite value >= 0"):
        Number(float("nan"))
    with pytest.raises(ValueError, match="unescaped"):
        Glob("no wildcard")
    with pytest.raises(ValueError, match="unescaped"):
        Glob(r"a\b*")  # a backslash in a pattern escapes * ? or itself
    with pytest.raises(ValueError, match="unknown function"):
        Call("eval", (A,))
    with pytest.raises(ValueError, match="non-empty"):
        Column("")
    assert Number(-0.0) == Number(0) and to_text(Number(-0.0)) == "0"


def test_functions_and_their_argument_counts():
    assert dict(FUNCTIONS) == {"sum": (1, None), "mean": (1, None), "log1p": (1, 1),
                               "years_since": (1, 2), "days_since": (1, 2)}
    assert DATE_FUNCTIONS == {"years_since", "days_since"}


# --------------------------------------------------------------------------------------------
# Errors: position (1-based, in the text quoted) and what was expected


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        ("total=MntWines + * 2", 18, "expected a number, a column, a function or \"(\" (got '*')"),
        ("  total = MntWines + * 2", 22, "expected a number, a column, a function or \"(\""),
        ("x=", 3, "the expression is empty"),
        ("x=a +", 6, "expected a number, a column, a function or \"(\" (got the end)"),
        ("x=foo(a)", 3, "unknown function 'foo'; the functions are days_since, log1p, mean, "
                        "sum, years_since"),
        ("x=SUM(a)", 3, "unknown function 'SUM'"),
        ("x=log1p(a, b)", 12, "log1p takes 1 argument; remove this argument"),
        ("x=years_since()", 3, "years_since takes 1 to 2 arguments, got 0"),
        ("x=sum()", 3, "sum takes at least 1 argument, got 0"),
        ('x=days_since(Dt, "2014-12-31", Dt)', 32, "days_since takes 1 to 2 arguments"),
        ('x=years_since(Dt, "2014-02-30")', 19, "'2014-02-30' is not a date on the calendar"),
        ('x=years_since(Dt, "31/12/2014")', 19,
         "expected a date written \"YYYY-MM-DD\" (got '\"31/12/2014\"')"),
        ("x=years_since(Dt, 2014)", 19,
         "the second argument of years_since is a reference date in double quotes"),
        ('x=Income + "2014-01-01"', 12,
         "a date in quotes can only be the second argument of years_since or days_since"),
        ('x=years_since("2014-01-01")', 15, "a date in quotes can only be the second argument"),
        ("x=`Mnt*` * 2", 3, "a header pattern (`Mnt*`) can only be a whole argument of sum"),
        ("x=log1p(`Mnt*`)", 9, "a header pattern (`Mnt*`) can only be a whole argument"),
        ("x=sum(`Mnt*` + 1)", 7, "a header pattern (`Mnt*`) can only be a whole argument"),
        ("x=years_since(`Dt*`)", 15, "a header pattern (`Dt*`)"),
        ("x=years_since(Year_Birth + 1)", 15,
         "the first argument of years_since is one column of dates"),
        ("x=days_since(3)", 14, "the first argument of days_since is one column of dates"),
        ("x=(Kidhome + Teenhome", 22, "expected \")\" to close the \"(\" at character 3 "
                                      "(got the end)"),
        ("x=Kidhome + Teenhome)", 21, "this \")\" closes no \"(\""),
        ("x=`Net $ * 2", 3, "this \"`\" is never closed"),
        ('x=days_since(Dt, "2014-12-31)', 18, "this '\"' is never closed"),
        ("x=Kidhome Teenhome", 11, "expected an operator (+ - * /) or the end (got 'Teenhome')"),
        ("x=sum(a b)", 9, "expected \",\" or \")\" in sum(...) (got 'b')"),
        ("x=a, b", 4, "a \",\" separates the arguments of a function call"),
        ("x=2Kidhome", 3, "malformed number '2K'"),
        ("x=1.2.3", 3, "malformed number '1.2.'"),
        ("x=1e999", 3, "the number '1e999' is too large"),
        ("x=Âge + 1", 3, "'Âge' is not a plain ASCII name; write a header with other letters "
                         "in backticks: `Âge`"),
        ("x='2014-01-01'", 3, "unexpected \"'\""),
        ("x = a $ b", 7, "unexpected character '$'"),
        ("x=a = b", 5, "a derivation has one \"=\""),
        ("x=``", 3, "empty header in backticks"),
        ("x=+a", 3, "expected a number, a column, a function or \"(\" (got '+')"),
        ("x=a\x00", 4, "unexpected character '\\x00'"),
    ],
)
def test_error_position_and_what_was_expected(text, position, expected):
    with pytest.raises(DeriveError) as caught:
        parse_derivation(text)
    message = caught.value.message
    assert message.startswith(f"derivation {text!r}: at character {position}, ")
    assert expected in message


def test_error_in_an_expression_alone_counts_from_its_first_character():
    with pytest.raises(DeriveError, match=re.escape(
            "expression 'MntWines + * 2': at character 12, expected a number")):
        parse_expression("MntWines + * 2")


def test_a_derive_error_is_a_schema_error_that_names_its_parameter():
    with pytest.raises(SchemaError) as caught:
        parse_derivation("x=(")
    assert isinstance(caught.value, DeriveError)
    assert caught.value.parameter == "derivations"
    assert str(caught.value).endswith("(derivations)")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MntWines", 'expected NAME=EXPR, e.g. total=MntWines + MntFruits (no "=" found'),
        ("=MntWines", 'at character 1, the name before "=" is empty'),
        ("   = 1", 'at character 4, the name before "=" is empty'),
        ("`a=b`=1", "at character 1, the name may not contain backticks, quotes"),
        ("`a=1", 'at character 1, this "`" is never closed'),
        ('to"tal=1', "at character 3, the name may not contain backticks, quotes"),
        ("it's=1", "at character 3, the name may not contain backticks, quotes"),
        ("a\x07b=1", "at character 2, the name may not contain control or invisible"),
        ("evil\u202e=1", "at character 5, the name may not contain control or invisible"),
        ("n" * 101 + "=1", "the name is 101 characters long; a name has at most 100"),
    ],
)
def test_bad_names(text, expected):
    with pytest.raises(DeriveError, match=re.escape(expected)):
        parse_derivation(text)


def test_a_name_of_100_characters_and_any_letters_is_accepted():
    assert parse_derivation("n" * 100 + "=1").name == "n" * 100
    assert parse_derivation("Dépense totale (€) = 1").name == "Dépense totale (€)"
    with pytest.raises(DeriveError, match="spaces around it"):
        Derivation(" x", A)


def test_long_messages_say_where_the_error_is():
    text = "x=" + "a + " * 40 + "* 2"
    with pytest.raises(DeriveError, match=re.escape("at character 163 (near ' + a + a + a + * 2'")):
        parse_derivation(text)


# --------------------------------------------------------------------------------------------
# Hostile sizes: refused quickly, never a RecursionError


@pytest.mark.parametrize("text", ["(" * 100_000 + "x" + ")" * 100_000, "-" * 100_000 + "x",
                                  "x" + " + x" * 30_000])
def test_huge_expressions_are_refused_by_length(text):
    with pytest.raises(DeriveError, match=re.escape("characters long; at most 2,000 are allowed")):
        parse_expression(text)
    with pytest.raises(DeriveError, match=re.escape("at most 2,000 are allowed")):
        parse_derivation("x=" + text)


def test_deep_parentheses_within_the_length_are_refused_by_depth():
    with pytest.raises(DeriveError, match=re.escape(
            "at character 51, the parentheses are nested deeper than 50 levels")):
        parse_expression("(" * 1999 + "x")
    assert parse_expression("(" * 50 + "x" + ")" * 50) == Column("x")


def test_long_unary_chains_are_refused_by_depth():
    with pytest.raises(DeriveError, match=re.escape(
            "at character 50, the expression is nested deeper than 50 levels")):
        parse_expression("-" * 1999 + "x")
    tree = parse_expression("-" * 49 + "x")  # 49 minuses and the column: 50 levels
    assert to_text(tree) == "-" * 49 + "x"


def test_operator_chains_count_as_depth():
    fifty = " + ".join(["a"] * 50)  # 49 additions: depth 50
    assert columns_used(parse_expression(fifty), []) == ("a",)
    with pytest.raises(DeriveError, match="use sum\\(...\\) for a long addition"):
        parse_expression(fifty + " + a")
    nested_calls = "log1p(" * 49 + "a" + ")" * 49
    assert to_text(parse_expression(nested_calls)) == nested_calls
    with pytest.raises(DeriveError, match="nested deeper than 50"):
        parse_expression("log1p(" * 50 + "a" + ")" * 50)


def test_trees_built_by_hand_of_any_depth_are_walked_without_recursion():
    tree = A
    for _ in range(5_000):
        tree = Unary("-", tree)
    assert to_text(tree) == "-" * 5_000 + "a"
    assert columns_used(tree, ["a"]) == ("a",)
    got = evaluate(tree, lambda _: np.array([3.0]), None, dt.date(2020, 1, 1), 1)
    assert got.values.tolist() == [3.0]  # an even number of minuses


# --------------------------------------------------------------------------------------------
# Round trip and fuzzing (hypothesis)

_NAME_ALPHABET = st.characters(blacklist_categories=("Cs",))
column_names = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}", fullmatch=True),
    st.text(_NAME_ALPHABET, min_size=1, max_size=6),
    st.sampled_from(["sum", "log1p", "`", "``", "a`b", "\\", "\\*", "*", "x?", "Net $", " pad ",
                     "[x]", '"q"', "a=b", "é"]),
)
columns = column_names.map(Column)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


_piece = st.one_of(st.sampled_from(["*", "?"]), st.text(_NAME_ALPHABET, min_size=1, max_size=3)
                   .map(_escape))
globs = st.builds(lambda before, wildcard, after: Glob("".join(before) + wildcard + "".join(after)),
                  st.lists(_piece, max_size=2), st.sampled_from(["*", "?"]),
                  st.lists(_piece, max_size=2))
numbers = st.floats(min_value=0, allow_nan=False, allow_infinity=False).map(Number)
literal_dates = st.dates().map(DateLiteral)


def _extend(inner):
    return st.one_of(
        st.builds(Unary, st.just("-"), inner),
        st.builds(Binary, st.sampled_from("+-*/"), inner, inner),
        st.builds(Call, st.just("log1p"), st.tuples(inner)),
        st.builds(Call, st.sampled_from(["sum", "mean"]),
                  st.lists(st.one_of(inner, globs), min_size=1, max_size=3).map(tuple)),
        st.builds(Call, st.sampled_from(sorted(DATE_FUNCTIONS)),
                  st.one_of(st.tuples(columns), st.tuples(columns, literal_dates))),
    )


trees = st.recursive(st.one_of(numbers, columns), _extend, max_leaves=12)


def depth(node) -> int:
    kids = {Unary: lambda x: (x.operand,), Binary: lambda x: (x.left, x.right),
            Call: lambda x: x.args}.get(type(node), lambda x: ())(node)
    return 1 + max((depth(kid) for kid in kids), default=0)


@settings(max_examples=400, deadline=None)
@given(trees)
def test_canonical_text_parses_back_to_the_same_tree(tree):
    assume(depth(tree) <= MAX_DEPTH)
    text = to_text(tree)
    assert parse_expression(text) == tree
    assert parse_expression(f"  {text}\n") == tree


_derivation_names = st.text(
    st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"),
                  blacklist_characters="`\"'="),
    min_size=1, max_size=20).map(str.strip).filter(bool)


@settings(max_examples=150, deadline=None)
@given(_derivation_names, trees)
def test_derivation_text_parses_back(name, tree):
    assume(depth(tree) <= MAX_DEPTH)
    derivation = Derivation(name, tree)
    assert parse_derivation(derivation.text) == derivation


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=40),
                 st.text(st.sampled_from('ab1.e()+-*/,` "\'=_?\\\x00é2-Mnt'), max_size=40)))
def test_any_text_parses_or_raises_a_derive_error(text):
    try:
        tree = parse_expression(text)
    except DeriveError as error:
        assert re.search(r": (at character \d+, )?\S", error.message)
    else:
        assert parse_expression(to_text(tree)) == tree


# --------------------------------------------------------------------------------------------
# Evaluation


def test_arithmetic_values():
    got = run("Kidhome + Teenhome", {"Kidhome": [0, 1, 2], "Teenhome": [1, 1, 0]})
    assert got.values.tolist() == [1.0, 2.0, 2.0]
    got = run("PURCHASES / (PAYMENTS + 1)", {"PURCHASES": [10, 0, 7.5], "PAYMENTS": [4, 9, 2]})
    assert got.values.tolist() == [2.0, 0.0, 2.5]
    got = run("-a * 2 - a / 4", {"a": [8, -2]})
    assert got.values.tolist() == [-18.0, 4.5]
    assert got.values.dtype == np.float64 and got.undefined.tolist() == [False, False]


def test_sum_mean_and_log1p_values():
    spend = {"MntWines": [100, 0, 5], "MntFruits": [20, 0, 1], "Other": [1, 1, 1]}
    assert run("sum(`Mnt*`)", spend).values.tolist() == [120.0, 0.0, 6.0]
    assert run("mean(`Mnt*`, Other)", spend).values.tolist() == [121 / 3, 1 / 3, 7 / 3]
    assert run("sum(MntWines)", spend).values.tolist() == [100.0, 0.0, 5.0]
    got = run("log1p(x)", {"x": [0, math.e - 1, 99]})
    assert got.values == pytest.approx([0.0, 1.0, math.log(100)])


def test_a_missing_cell_makes_the_row_missing_never_zero():
    got = run("sum(a, b) + mean(a, b) * 0", {"a": [1, np.nan, 3, np.inf], "b": [1, 2, np.nan, 1]})
    assert got.values[0] == 2.0
    assert np.isnan(got.values[1:]).all()
    assert not got.undefined.any()  # a bad source cell, not an undefined formula


def test_undefined_where_inputs_are_valid_but_the_formula_is_not():
    got = run("a / b", {"a": [1, 0, -1, np.nan, 6], "b": [0, 0, 0, 0, 3]})
    assert np.isnan(got.values[:4]).all() and got.values[4] == 2.0
    assert got.undefined.tolist() == [True, True, True, False, False]
    got = run("log1p(x)", {"x": [-1, -3, -0.5, np.nan]})
    assert got.undefined.tolist() == [True, True, False, False]
    assert got.values[2] == pytest.approx(math.log(0.5))
    got = run("x * x * 10", {"x": [1e200, 3]})  # overflow to inf
    assert np.isnan(got.values[0]) and got.values[1] == 90.0
    assert got.undefined.tolist() == [True, False]


def test_undefined_propagates_unless_a_source_cell_is_bad():
    got = run("a / b + c", {"a": [1, 1, 1], "b": [0, 0, 1], "c": [5, np.nan, 5]})
    assert got.undefined.tolist() == [True, False, False]
    assert np.isnan(got.values[:2]).all() and got.values[2] == 6.0


def test_results_are_read_only_and_sized_by_n():
    got = run("a + 1", {"a": [1, 2]})
    with pytest.raises(ValueError, match="read-only"):
        got.values[0] = 0
    empty = evaluate(Number(1), None, None, dt.date(2020, 1, 1), 0)
    assert empty.values.shape == (0,) and empty.undefined.shape == (0,)
    assert evaluate(Number(2.5), None, None, dt.date(2020, 1, 1), 3).values.tolist() == [2.5] * 3


def test_evaluate_refuses_an_unresolved_glob_and_a_column_of_the_wrong_length():
    with pytest.raises(ValueError, match=re.escape("resolve the glob `Mnt*`")):
        evaluate(parse_expression("sum(`Mnt*`)"), None, None, dt.date(2020, 1, 1), 1)
    with pytest.raises(ValueError, match=re.escape("gave shape (2,), expected (3,)")):
        evaluate(A, lambda _: np.zeros(2), None, dt.date(2020, 1, 1), 3)


_values = st.sampled_from([0.0, 1.0, -1.0, -3.0, 2.5, -0.5, 1e308, -1e308, 7e-310, np.nan])


def _scalar(node, row):
    """Row-by-row reference: ("ok", value), ("missing",) or ("undefined",)."""
    if isinstance(node, Number):
        return ("ok", node.value)
    if isinstance(node, Column):
        value = row[node.name]
        return ("ok", value) if math.isfinite(value) else ("missing",)
    kids = {Unary: lambda x: (x.operand,), Binary: lambda x: (x.left, x.right),
            Call: lambda x: x.args}[type(node)](node)
    got = [_scalar(kid, row) for kid in kids]
    if any(g[0] == "missing" for g in got):
        return ("missing",)
    if any(g[0] == "undefined" for g in got):
        return ("undefined",)
    xs = [g[1] for g in got]
    try:
        if isinstance(node, Unary):
            result = -xs[0]
        elif isinstance(node, Binary):
            result = {"+": lambda: xs[0] + xs[1], "-": lambda: xs[0] - xs[1],
                      "*": lambda: xs[0] * xs[1], "/": lambda: xs[0] / xs[1]}[node.op]()
        elif node.function == "log1p":
            result = math.log1p(xs[0])
        else:
            result = xs[0]
            for x in xs[1:]:
                result += x
            if node.function == "mean":
                result /= len(xs)
    except (ZeroDivisionError, ValueError, OverflowError):
        return ("undefined",)
    return ("ok", result) if math.isfinite(result) else ("undefined",)


def _extend_numeric(inner):
    return st.one_of(
        st.builds(Unary, st.just("-"), inner),
        st.builds(Binary, st.sampled_from("+-*/"), inner, inner),
        st.builds(Call, st.just("log1p"), st.tuples(inner)),
        st.builds(Call, st.sampled_from(["sum", "mean"]),
                  st.lists(inner, min_size=1, max_size=3).map(tuple)),
    )


numeric_trees = st.recursive(
    st.one_of(st.sampled_from([A, B]), st.sampled_from([0.0, 1.0, 2.5, 1e300]).map(Number)),
    _extend_numeric, max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(numeric_trees, st.lists(st.tuples(_values, _values), min_size=1, max_size=8))
def test_vectorised_evaluation_matches_a_row_by_row_reference(tree, rows):
    data = {"a": np.array([r[0] for r in rows]), "b": np.array([r[1] for r in rows])}
    got = evaluate(tree, data.__getitem__, None, dt.date(2020, 1, 1), len(rows))
    for i, (a, b) in enumerate(rows):
        expected = _scalar(tree, {"a": a, "b": b})
        if expected[0] == "ok":
            assert not got.undefined[i]
            assert got.values[i] == pytest.approx(expected[1], rel=1e-12, abs=1e-300)
        else:
            assert np.isnan(got.values[i])
            assert got.undefined[i] == (expected[0] == "undefined")


# --------------------------------------------------------------------------------------------
# Dates


@pytest.mark.parametrize(
    ("born", "reference", "years"),
    [
        ("1990-06-15", "2020-06-14", 29),
        ("1990-06-15", "2020-06-15", 30),
        ("1990-06-15", "2020-06-16", 30),
        ("2000-02-29", "2001-02-28", 0),  # a leap-day birthday is reached on 1 March
        ("2000-02-29", "2001-03-01", 1),
        ("2000-02-29", "2004-02-28", 3),
        ("2000-02-29", "2004-02-29", 4),
        ("2001-03-01", "2004-02-29", 2),
        ("2001-02-28", "2004-02-29", 3),
        ("1957-03-10", "2014-06-30", 57),  # before 1970: negative day numbers
        ("1957-07-01", "2014-06-30", 56),
        ("1899-12-31", "1900-01-01", 0),
        ("2014-06-30", "2014-06-30", 0),
        ("2020-06-15", "2019-06-14", -1),  # a later date counts toward zero
        ("2020-06-15", "2018-06-15", -2),
    ],
)
def test_years_since_counts_whole_years_as_for_an_age(born, reference, years):
    got = run(f'years_since(Born, "{reference}")', date_values={"Born": DateValues(days(born))})
    assert got.values.tolist() == [years]


def test_years_since_of_a_year_only_column_is_the_difference_of_years():
    year_birth = DateValues(year_days(1957, 1996, None), year_only=True)
    got = run("years_since(Year_Birth)", date_values={"Year_Birth": year_birth},
              as_of=dt.date(2014, 6, 30))
    assert got.values[:2].tolist() == [57.0, 18.0]
    assert np.isnan(got.values[2]) and not got.undefined.any()
    got = run('years_since(Year_Birth, "2014-01-01")', date_values={"Year_Birth": year_birth})
    assert got.values[:2].tolist() == [57.0, 18.0]  # the day of the reference does not count


def test_days_since_counts_whole_days():
    customer = DateValues(days("2012-09-04", "2014-12-31", "2015-01-02", None))
    got = run('days_since(Dt_Customer, "2014-12-31")', date_values={"Dt_Customer": customer})
    assert got.values[:3].tolist() == [848.0, 0.0, -2.0]
    assert np.isnan(got.values[3]) and not got.undefined.any()
    fraction = DateValues(days("2014-12-30") + 0.75)  # a time of day is floored to its date
    assert run('days_since(T, "2014-12-31")', date_values={"T": fraction}).values.tolist() == [1.0]
    year_only = DateValues(year_days(2014), year_only=True)  # counted from 1 January
    assert run('days_since(Y, "2014-12-31")', date_values={"Y": year_only}).values.tolist() == [
        364.0]


def test_without_a_reference_date_the_callers_as_of_is_used():
    born = {"Born": DateValues(days("1990-06-15"))}
    at_fit = run("years_since(Born)", date_values=born, as_of=dt.date(2020, 6, 14))
    next_year = run("years_since(Born)", date_values=born, as_of=dt.date(2021, 6, 14))
    assert at_fit.values.tolist() == [29.0] and next_year.values.tolist() == [30.0]
    fixed = run('years_since(Born, "2020-06-14")', date_values=born, as_of=dt.date(2030, 1, 1))
    assert fixed.values.tolist() == [29.0]
    with_time = run("days_since(Born)", date_values=born,
                    as_of=dt.datetime(1990, 6, 25, 23, 59))
    assert with_time.values.tolist() == [10.0]


def test_out_of_range_day_numbers_are_missing_not_a_crash():
    weird = DateValues(np.array([1e300, -1e300, np.inf, 0.0]))
    got = run('years_since(D, "2000-01-01")', date_values={"D": weird})
    assert np.isnan(got.values[:3]).all() and got.values[3] == 30.0
    assert not got.undefined.any()


def test_date_functions_mix_with_arithmetic_and_read_only_dates():
    calls = []

    def numbers(name):
        calls.append(("numbers", name))
        return np.array([2.0])

    def dates(name):
        calls.append(("dates", name))
        return DateValues(days("2000-01-01"))

    got = evaluate(parse_expression('days_since(Dt, "2000-01-11") / k'), numbers, dates,
                   dt.date(2020, 1, 1), 1)
    assert got.values.tolist() == [5.0]
    assert sorted(calls) == [("dates", "Dt"), ("numbers", "k")]


# --------------------------------------------------------------------------------------------
# Columns, globs, resolve

HEADERS = ["ID", "Year_Birth", "MntWines", "MntFruits", "mntlower", "Dt_Customer", "MntWines",
           "Mnt[x]", "Rate*", "NumWebPurchases", "NumStorePurchases"]


def test_columns_used_in_first_use_order_with_globs_in_header_order():
    tree = parse_expression('Income / sum(`Mnt*`) + years_since(Dt_Customer) + MntFruits')
    assert columns_used(tree, HEADERS) == (
        "Income", "MntWines", "MntFruits", "Mnt[x]", "Dt_Customer")
    assert date_columns(tree) == ("Dt_Customer",)
    assert date_columns(parse_expression('years_since(a) - days_since(b, "2014-01-01") + '
                                         'years_since(a)')) == ("a", "b")


def test_glob_matching_is_case_sensitive_whole_header_and_literal_brackets():
    assert columns_used(parse_expression("sum(`Num*Purchases`)"), HEADERS) == (
        "NumWebPurchases", "NumStorePurchases")
    assert columns_used(parse_expression("sum(`Mnt[?]`)"), HEADERS) == ("Mnt[x]",)
    assert columns_used(parse_expression("sum(`Mnt?????`)"), HEADERS) == ("MntWines",)
    assert columns_used(parse_expression("sum(`Mnt??????`, `Mnt???`)"), HEADERS) == (
        "MntFruits", "Mnt[x]")
    assert columns_used(parse_expression(r"sum(`Rate\**`)"), HEADERS) == ("Rate*",)
    assert columns_used(parse_expression("sum(`*Wines`)"), HEADERS) == ("MntWines",)


def test_a_glob_matching_nothing_names_the_pattern_and_some_headers():
    with pytest.raises(DeriveError, match=re.escape(
            "the pattern `MNT*` matches no column (the columns are 'ID', 'Year_Birth', "
            "'MntWines', 'MntFruits', 'mntlower', 'Dt_Customer', 'MntWines', 'Mnt[x]' and 3 "
            "more); patterns are case-sensitive")):
        columns_used(parse_expression("sum(`MNT*`)"), HEADERS)
    with pytest.raises(DeriveError, match=re.escape("the pattern `x?` matches no column")):
        resolve(parse_expression("mean(`x?`)"), HEADERS)


def test_resolve_spells_out_every_glob():
    tree = parse_expression("sum(`Mnt*`, Income) / mean(`Num*`)")
    resolved = resolve(tree, HEADERS)
    assert to_text(resolved) == ("sum(MntWines, MntFruits, `Mnt[x]`, Income) / "
                                 "mean(NumWebPurchases, NumStorePurchases)")
    assert resolve(resolved, HEADERS) == resolved
    assert resolve(resolved, []) == resolved  # nothing left to match
    assert columns_used(resolved, []) == columns_used(tree, HEADERS)
    plain = parse_expression("a + b")
    assert resolve(plain, []) == plain


def test_resolved_tree_scored_on_a_file_without_one_column_asks_for_it():
    stored = resolve(parse_expression("sum(`Mnt*`)"), ["MntWines", "MntFruits"])
    later = {"MntWines": np.array([1.0])}
    with pytest.raises(KeyError, match="MntFruits"):
        evaluate(stored, later.__getitem__, None, dt.date(2020, 1, 1), 1)
