"""`custseg serve` and the service process agree on every option's default and bound.

The command line may not import the service (they are faces side by side), so its Typer
options repeat the figures of :data:`custseg.service.settings.DEFAULTS` and ``MAXIMA``;
this test is what ties the two.
"""

import typer.main

from custseg.cli import app
from custseg.service.__main__ import parse
from custseg.service.settings import DEFAULTS, MAXIMA, MB, Settings


def _serve_options() -> dict:
    command = typer.main.get_command(app).commands["serve"]
    return {p.name: p for p in command.params}


def test_the_command_lines_defaults_are_the_services():
    options = _serve_options()
    assert {name: options[name].default for name in DEFAULTS} == DEFAULTS
    args = vars(parse(["model.json"]))
    assert {name: args[name] for name in DEFAULTS} == DEFAULTS
    assert DEFAULTS["max_decompressed_mb"] == 8_192


def test_the_command_lines_bounds_are_the_services():
    options = _serve_options()
    assert {name: options[name].max for name in MAXIMA} == MAXIMA
    for name, maximum in MAXIMA.items():
        flag = "--" + name.replace("_", "-")
        assert vars(parse(["m.json", flag, str(maximum)]))[name] == maximum


def test_the_process_refuses_above_a_bound(capsys):
    try:
        parse(["m.json", "--workers", "65"])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("65 workers were accepted")
    assert "at most 64" in capsys.readouterr().err


def test_settings_defaults_are_the_options():
    settings = Settings()
    assert settings.max_rows == DEFAULTS["max_rows"]
    assert settings.max_body_bytes == DEFAULTS["max_body_mb"] * MB
    assert settings.max_json_bytes == DEFAULTS["max_json_mb"] * MB
    assert settings.max_decompressed_bytes == DEFAULTS["max_decompressed_mb"] * MB
    assert settings.timeout == DEFAULTS["timeout"]
