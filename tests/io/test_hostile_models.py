"""Issue 10, classes 5, 8 and 10: forged model files through the library.

Every forged file (a real model, edited, its checksum recomputed) is refused with a
:class:`ModelFileError` naming the field, before anything in it is used; what a model may
legitimately hold (markup in a name, any gender answer) loads and is escaped where shown.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from hostile_models import EXPANDING, STRUCTURE, TAMPERED, forge, set_field

from custseg.errors import ModelFileError
from custseg.io.model_files import model_bytes, model_from_bytes
from custseg.segments import charts

ALL = TAMPERED + STRUCTURE + EXPANDING


@pytest.fixture(scope="module")
def model_data(demo_model) -> bytes:
    return model_bytes(demo_model)


@pytest.mark.parametrize(("forge_case", "words"), [c[1:] for c in ALL], ids=[c[0] for c in ALL])
def test_forged_model_is_refused_naming_the_field(model_data, forge_case, words):
    bad = forge_case(model_data)
    with pytest.raises(ModelFileError) as caught:
        model_from_bytes(bad, name="forged.custseg")
    message = str(caught.value)
    assert message.startswith("'forged.custseg'"), message
    assert words in message, message
    assert "\x1b" not in message and "\u202e" not in message and "\x9b" not in message


def test_the_untouched_model_loads(model_data, demo_model):
    # the forging itself (a rebuilt archive, a recomputed checksum) is not what is refused
    loaded = model_from_bytes(forge(model_data))
    assert loaded.names == demo_model.names
    assert loaded.fitted.atypical_threshold == demo_model.fitted.atypical_threshold


def test_a_million_customers_are_refused_from_the_header(model_data):
    from hostile_models import huge_reference

    bad = huge_reference(model_data)
    assert len(bad) < 100_000  # 24 MB of identical rows deflate to a small file
    arrays = zipfile.ZipFile(io.BytesIO(bad)).read("arrays.npz")
    assert zipfile.ZipFile(io.BytesIO(arrays)).getinfo("reference_X.npy").file_size > 24_000_000
    with pytest.raises(ModelFileError, match="refused before its data is read"):
        model_from_bytes(bad)


def test_markup_in_a_name_loads_and_is_escaped_in_figures_and_report(model_data):
    from custseg.model.report import build_report

    name = '<a href="http://evil.example">%{x} click</a>'
    model = model_from_bytes(forge(model_data, set_field(["segments", 0, "name"], name)))
    assert model.segments[0].name == name  # data, kept as written
    donut = charts.shares_donut(model.segments).to_plotly_json()
    label = donut["data"][0]["labels"][0]
    assert label == "0 · &lt;a href=\"http://evil.example\"&gt;&#37;{x} click&lt;/a&gt;"
    html = build_report(model)
    assert '<a href="http://evil.example"' not in html
    assert "&lt;a href=&quot;http://evil.example&quot;&gt;" in html


def test_gender_answers_are_data_and_load_as_written(model_data):
    answer = "Fe\u202emale\x1b[2J"
    model = model_from_bytes(forge(model_data, set_field(["segments", 0, "gender_mix"],
                                                         {answer: 0.4, "Male": 0.6})))
    assert answer in model.segments[0].gender_mix


def test_a_model_custseg_could_not_read_is_never_written(demo_model):
    from dataclasses import replace

    bad = replace(demo_model, segments=(replace(demo_model.segments[0], name="Twin"),
                                        replace(demo_model.segments[1], name="Twin"),
                                        *demo_model.segments[2:]))
    with pytest.raises(ModelFileError, match="cannot be saved as a model file: .*share the name"):
        model_bytes(bad)


def test_edits_follow_the_same_rules(demo_model):
    from custseg.errors import CustsegError

    for name, words in [("A\x1b[2J", "control character U\\+001B"), ("N" * 81, "81 characters"),
                        ("Fine\u202e", "U\\+202E")]:
        with pytest.raises(CustsegError, match=words):
            demo_model.with_edits({0: {"name": name}})
    edited = demo_model.with_edits({0: {"name": "<b>VIP</b> 100%"}})
    assert model_from_bytes(model_bytes(edited)).segments[0].name == "<b>VIP</b> 100%"
