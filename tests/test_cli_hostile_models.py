"""Issue 10, classes 5, 8, 10 and 11 through the command line: forged model files and
hostile rulebooks exit 2 with one ``error:`` line (no traceback, nothing raw on the
terminal), for every command that reads a model (profile, predict, score, report,
rules); text from any source is printed with its control characters escaped."""

from __future__ import annotations

import json

import pytest
from cli_helpers import one_error_line as cli_one_error_line
from cli_helpers import run
from hostile_models import EXPANDING, STRUCTURE, TAMPERED, forge, huge_reference

from custseg.io.model_files import model_bytes
from custseg.table.sample import make_customers

RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def one_error_line(code: int, err: str) -> str:
    assert not any(c in err for c in RAW), repr(err)
    return cli_one_error_line(code, err)


@pytest.fixture(scope="module")
def files(tmp_path_factory, demo_model):
    folder = tmp_path_factory.mktemp("models")
    data = model_bytes(demo_model)
    (folder / "good.custseg").write_bytes(data)
    make_customers(50, seed=3).to_csv(folder / "customers.csv", index=False)
    return folder, data


COMMANDS = {
    "profile": ["profile", "{m}"],
    "profile-json": ["profile", "{m}", "--json"],
    "predict": ["predict", "{m}", "--age", "30", "--annual-income", "60", "--spending-score", "50"],
    "score": ["score", "{m}", "{dir}/customers.csv", "-o", "{dir}/scored.csv", "--force"],
    "report": ["report", "{m}", "-o", "{dir}/report.html", "--force"],
    "rules": ["rules", "{m}", "-o", "{dir}/rules.toml", "--force"],
}
#: A few of each class, through every command (all cases go through the library).
PICKED = {c[0]: c for c in TAMPERED + STRUCTURE + EXPANDING}
CASES = ["nan-threshold", "osc52-name", "bidi-name", "unknown-segmenter-param",
         "labels-unknown", "duplicate-member", "encrypted-member", "deflate64", "deep-json",
         "neighbours-text", "levels-number", "missing-base", "size-text", "npz-object-array",
         "million-identical-customers", "terabyte-header", "huge-json"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_forged_models_exit_2_with_one_line(capsys, files, case, command):
    folder, data = files
    path = folder / f"{case}.custseg"
    if not path.exists():
        path.write_bytes(PICKED[case][1](data))
    args = [a.format(m=path, dir=folder) for a in COMMANDS[command]]
    code, out, err = run(capsys, *args)
    line = one_error_line(code, err)
    assert PICKED[case][2].split("'")[0][:25] in line, line
    assert out == ""


def test_the_million_customer_model_is_refused_from_its_header(capsys, files):
    folder, data = files
    path = folder / "million.custseg"
    path.write_bytes(huge_reference(data))
    code, _, err = run(capsys, "profile", path)
    assert "refused before its data is read" in one_error_line(code, err)


def test_markup_and_gender_text_print_safely(capsys, files):
    folder, data = files
    path = folder / "markup.custseg"
    answer = "Fe\u202emale\x1b[2J\x85"
    path.write_bytes(forge(data, lambda o: (
        o["segments"][0].__setitem__("name", "<a href='x'>VIP</a>"),
        o["segments"][0].__setitem__("gender_mix", {answer: 0.5, "Male": 0.5}))))
    code, out, err = run(capsys, "profile", path, "--json")
    assert code == 0, err
    assert not any(c in out for c in RAW), repr(out[:200])
    document = json.loads(out)  # the escapes are JSON's: the data is exact
    assert answer in document["segments"][0]["gender_mix"]
    assert document["segments"][0]["name"] == "<a href='x'>VIP</a>"
    code, out, err = run(capsys, "profile", path)
    assert code == 0 and "<a href='x'>VIP</a>" in out


@pytest.mark.parametrize("args", [
    ["profile", "no\x1b]52;c;aGk=\x07such.custseg"],
    ["fit", "x.csv", "-o", "m.custseg", "--algorithm", "\x1b[2Jkmeans"],
    ["predict", "\u202emodel.custseg", "--age", "3"],
])
def test_values_echoed_in_errors_are_escaped(capsys, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *args)
    one_error_line(code, err)


def test_terminal_safe_escapes_every_control_character():
    from custseg.table.text import terminal_safe

    assert terminal_safe("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert terminal_safe("\x1b]52;c;aGk=\x07") == "\\x1b]52;c;aGk=\\x07"
    assert terminal_safe("x\x9b\x7f\u202e\u2066\n\t") == "x\\x9b\\x7f\\u202e\\u2066\\x0a\\x09"
    assert terminal_safe("Café · 100% <b>") == "Café · 100% <b>"


# ---------------------------------------------------------------- class 11: rulebooks

RULEBOOKS = {
    "deep.toml": ("a = " + "[" * 10_000 + "]" * 10_000, "nests tables or arrays too deeply"),
    "types.toml": ('[levels]\nthreshold = "high"\n', "levels.threshold: input should be a valid number"),
    "unknown.toml": ('colour = "red"\n', "colour is not a field custseg knows"),
    "rule-field.toml": ('[[rules]]\nname = "A"\nwhen = { age = "low" }\nstrategy = "s"\n'
                        'priority = 1\n', "rules[0].priority is not a field"),
    "level.toml": ('[[rules]]\nname = "A"\nwhen = { age = "very high" }\nstrategy = "s"\n',
                   "rules[0].when.age must be 'low', 'mid' or 'high'"),
    "escape.toml": ('[[rules]]\nname = "A\\u001b]52;c;aGk=\\u0007"\nwhen = { age = "low" }\n'
                    'strategy = "s"\n', "rules[0].name holds the control character U+001B"),
    "long.toml": (f'[outliers]\nname = "{"O" * 81}"\n', "outliers.name is 81 characters long"),
    "version.toml": ("version = 2\n", "version: input should be 1"),
    "huge.toml": ("# " + "x" * (1 << 20) + "\n", "larger than 1 MB"),
    "not-utf8.toml": (b"name = \"\xff\"\n", "cannot read rulebook"),
}


@pytest.mark.parametrize("name", list(RULEBOOKS))
def test_hostile_rulebooks_are_refused_up_front(capsys, files, name):
    folder, _ = files
    content, words = RULEBOOKS[name]
    rules = folder / name
    rules.write_bytes(content if isinstance(content, bytes) else content.encode())
    out_model = folder / f"from-{name}.custseg"
    code, _, err = run(capsys, "fit", folder / "customers.csv", "-o", out_model, "--rules", rules)
    line = one_error_line(code, err)
    assert words in line, line
    assert line.endswith("(--rules)"), line
    assert not out_model.exists()


def test_a_rulebook_whose_names_collide_still_gives_a_loadable_model(capsys, files):
    """Every rule named alike, a rule named like a numbered duplicate, the outliers named
    like a numbered duplicate: the fit names every segment uniquely and the model loads."""
    from custseg.io.rulebooks import default_rulebook

    folder, _ = files
    book = default_rulebook().to_dict()
    for i, rule in enumerate(book["rules"]):
        rule["name"] = "Same (2)" if i % 7 == 3 else "Same"
    book["outliers"]["name"] = "Same (3)"  # like a numbered duplicate (never "Same")
    book["modifiers"] = {"age": {"low": "Same", "high": "Same"}}
    import tomli_w

    rules = folder / "collide.toml"
    rules.write_text(tomli_w.dumps(book))
    model = folder / "collide.custseg"
    code, _, err = run(capsys, "fit", folder / "customers.csv", "-o", model, "--rules", rules,
                       "-a", "dbscan", "-p", "eps=0.6", "-p", "min_samples=3")
    assert code == 0, err
    code, out, err = run(capsys, "profile", model, "--json")
    assert code == 0, err
    names = [s["name"] for s in json.loads(out)["segments"]]
    assert len(names) == len(set(names)) >= 2
    assert all(n.startswith("Same") or n.startswith("Segment") for n in names), names
