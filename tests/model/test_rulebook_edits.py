"""The analyst's words: edited names and strategies, and rulebooks as TOML."""

from __future__ import annotations

import pytest

import custseg
from custseg.cli import main
from custseg.errors import CustsegError
from custseg.io.rulebooks import default_rulebook, load_rulebook
from custseg.segments.profile import Rulebook


@pytest.fixture(scope="module")
def model():
    return custseg.fit(custseg.make_customers(500, seed=4))


def test_edits_are_saved_with_the_model(model, tmp_path):
    edited = model.with_edits({0: {"name": "Core", "strategy": "Keep them."}})
    assert edited.segment(0).name == "Core" and edited.segment(0).edited
    assert not edited.segment(1).edited
    path = tmp_path / "m.custseg"
    custseg.save_model(edited, path)
    loaded = custseg.load_model(path)
    assert (loaded.segment(0).name, loaded.segment(0).strategy) == ("Core", "Keep them.")
    assert loaded.summary()["segments"][0]["edited"] is True
    got = custseg.predict_one(loaded, age=43, annual_income=55, spending_score=50)
    assert got["segment_name"] == loaded.names[got["segment_id"]]


def test_edits_keep_names_unique_and_present(model):
    other = model.segment(1).name
    with pytest.raises(CustsegError, match="names must be unique"):
        model.with_edits({0: {"name": other}})
    with pytest.raises(CustsegError, match="cannot be blank"):
        model.with_edits({0: {"name": "  "}})


def test_rulebook_round_trips_through_toml(tmp_path, capsys):
    book = default_rulebook()
    assert Rulebook.from_toml(book.to_toml()) == book
    out = tmp_path / "rules.toml"
    assert main(["rules", "-o", str(out)]) == 0
    assert load_rulebook(out) == book


def test_an_imported_rulebook_renames(tmp_path, capsys):
    text = default_rulebook().to_toml().replace('name = "Affluent Spenders"',
                                                'name = "Golden Circle"')
    path = tmp_path / "mine.toml"
    path.write_text(text)
    data = tmp_path / "d.csv"
    custseg.make_customers(500, seed=4).to_csv(data, index=False)
    assert main(["fit", str(data), "-o", str(tmp_path / "m"), "--rules", str(path)]) == 0
    names = [s.name for s in custseg.load_model(tmp_path / "m").segments]
    assert "Golden Circle" in names and "Affluent Spenders" not in names
