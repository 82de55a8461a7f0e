"""``rfm`` on the local engine over a folder or a glob of a log's files: the result of
the files concatenated (decisions over every file, customers spanning files), and the
refusals (a glob of nothing, a file of another header, the output over an input)."""

from __future__ import annotations

import json

import pytest
from cli_helpers import one_error_line, run
from log_parts import HEADER, PREFIXED_PARTS, UCI_PARTS, write_parts

from custseg.errors import InputFileError
from custseg.io.rfm import aggregate_log, log_files, rfm_file


def rows(result) -> dict[str, dict]:
    return {r["customer_id"]: r for r in result.table.to_pylist()}


@pytest.mark.parametrize("how", ["folder", "glob"])
def test_the_files_give_the_concatenated_files_table(tmp_path, how):
    folder, whole = write_parts(tmp_path, UCI_PARTS)
    given = folder if how == "folder" else str(folder / "[a-d].csv")
    local = aggregate_log(whole)
    result = aggregate_log(given)
    assert result.table.equals(local.table)
    assert result.summary == local.summary
    got = rows(result)
    c = got["17850"]  # 536365 in a and b: one order; dates month-first, from b alone
    assert (c["frequency"], c["monetary"], c["returns_value"]) == (2, 40.19, 2.55)
    assert str(c["first_purchase"]) == "2010-12-01"
    assert result.date_format == local.date_format
    assert result.date_format.startswith("mdy|")
    s = result.summary
    # 13047's identical line is twice in a and once in b: all three kept, two repeats
    assert (s.read, s.used, s.duplicate_lines, s.as_of) == (13, 11, 2, "2010-12-14")
    assert got["13047"]["monetary"] == 9.0 + 7.5


def test_the_uci_rule_is_decided_over_every_file(tmp_path):
    """x.csv alone reads C100 as a cancellation; y.csv's CA-7731 says the log's order ids
    are not UCI-style, so in the folder C100 is a purchase."""
    folder, whole = write_parts(tmp_path, PREFIXED_PARTS)
    alone = rows(aggregate_log(folder / "x.csv"))["7"]
    assert (alone["frequency"], alone["returns_value"]) == (1, 20.0)
    got = rows(aggregate_log(folder))["7"]
    assert (got["frequency"], got["monetary"], got["returns_value"]) == (3, 34.0, 0.0)
    assert aggregate_log(folder).table.equals(aggregate_log(whole).table)


def test_a_glob_that_matches_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_parts(tmp_path, PREFIXED_PARTS)
    with pytest.raises(InputFileError, match=r"^'parts/\*\.tsv' names no input file"):
        aggregate_log("parts/*.tsv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="names no input file"):
        aggregate_log(tmp_path / "empty")


def test_a_folders_other_files(tmp_path):
    folder, whole = write_parts(tmp_path, PREFIXED_PARTS)
    (folder / "README.md").write_text("# exports of March\n", encoding="utf-8")
    (folder / "notes").mkdir()  # a subfolder is not read either
    assert aggregate_log(folder).table.equals(aggregate_log(whole).table)
    # a file of a table kind that is not part of the log is refused, by name
    (folder / "z-notes.txt").write_text("who,what\nann,called\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="column 1 of 'z-notes.txt' is 'who' where "
                                             "'x.csv' has 'InvoiceNo'"):
        aggregate_log(folder)


def test_a_file_of_another_header_is_refused_by_name(tmp_path):
    folder, _ = write_parts(tmp_path, PREFIXED_PARTS)
    swapped = "InvoiceNo,StockCode,Quantity,UnitPrice,InvoiceDate,CustomerID\n"
    (folder / "z.csv").write_text(swapped + "102,A,1,4,2021-03-07,9\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="column 4 of 'z.csv' is 'UnitPrice' where "
                                             "'x.csv' has 'InvoiceDate'.*same header"):
        aggregate_log(folder)
    (folder / "z.csv").write_text(HEADER.rstrip("\n") + ",Country\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="'z.csv' has 7 columns where 'x.csv' has 6"):
        aggregate_log(folder)


def test_one_file_is_not_expanded(tmp_path):
    folder, whole = write_parts(tmp_path, PREFIXED_PARTS)
    assert log_files(whole) is None and log_files(b"x") is None
    assert log_files(tmp_path / "missing.csv") is None  # its reader says it is missing
    assert [p.name for p in log_files(folder)] == ["x.csv", "y.csv"]
    odd = tmp_path / "log[1].csv"  # a file whose name looks like a glob is that file
    odd.write_text(HEADER + PREFIXED_PARTS["x.csv"], encoding="utf-8")
    assert log_files(odd) is None
    assert aggregate_log(odd).summary.read == 2


def test_the_output_is_never_one_of_the_files(tmp_path):
    folder, _ = write_parts(tmp_path, PREFIXED_PARTS)
    rfm_file(folder, folder / "customers.csv")  # written once beside the parts…
    before = (folder / "y.csv").read_bytes()
    with pytest.raises(InputFileError, match="is the input file"):
        rfm_file(folder, folder / "customers.csv")  # …then it is one of the inputs
    with pytest.raises(InputFileError, match="is the input file"):
        rfm_file(str(folder / "*.csv"), folder / "y.csv", force=True)
    assert (folder / "y.csv").read_bytes() == before


def test_cli_folder_and_glob(tmp_path, capsys):
    folder, whole = write_parts(tmp_path, UCI_PARTS)
    code, local_json, err = run(capsys, "rfm", whole, "-o", tmp_path / "whole.csv", "--json")
    assert code == 0, err
    for given, out in ((folder, "folder.csv"), (folder / "*.csv", "glob.csv")):
        code, got, err = run(capsys, "rfm", given, "-o", tmp_path / out, "--json")
        assert code == 0, err
        assert json.loads(got) == json.loads(local_json)
        assert (tmp_path / out).read_bytes() == (tmp_path / "whole.csv").read_bytes()
    code, _, err = run(capsys, "rfm", tmp_path / "none-*.csv", "-o", tmp_path / "x.csv")
    assert "names no input file" in one_error_line(code, err)
    assert not (tmp_path / "x.csv").exists()


def test_fit_and_score_a_folder_as_the_concatenated_log(tmp_path, capsys):
    from log_tables import write_log

    whole = tmp_path / "log.csv"
    write_log(whole)
    header, *lines = whole.read_text(encoding="utf-8").splitlines(keepends=True)
    folder = tmp_path / "parts"
    folder.mkdir()
    half = len(lines) // 2  # by line, so customers span both files
    (folder / "a.csv").write_text(header + "".join(lines[:half]), encoding="utf-8")
    (folder / "b.csv").write_text(header + "".join(lines[half:]), encoding="utf-8")
    summaries = []
    for given, model in ((whole, "whole.custseg"), (folder, "folder.custseg")):
        code, out, err = run(capsys, "fit", given, "--transactions", "-o", tmp_path / model,
                             "-p", "n_clusters=3", "--json")
        assert code == 0, err
        summaries.append(json.loads(out))
    assert summaries[0]["lines"] == {"read": 583, "used": 583, "excluded": {}}
    assert summaries[1]["lines"] == summaries[0]["lines"]
    assert summaries[1]["customers"] == summaries[0]["customers"] == 63
    assert summaries[1]["segments"] == summaries[0]["segments"]
    for given, out in ((whole, "whole.csv"), (folder / "*.csv", "glob.csv")):
        code, _, err = run(capsys, "score", tmp_path / "whole.custseg", given,
                           "-o", tmp_path / out, "-q", "--memory-limit", "500MB")
        assert code == 0, err
        assert "input read as a transaction log: 63 customers from 583 lines" in err
    assert (tmp_path / "glob.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    # a customer table (the scored log has its columns) takes no memory limit
    code, _, err = run(capsys, "score", tmp_path / "whole.custseg", tmp_path / "glob.csv",
                       "-o", tmp_path / "again.csv", "--memory-limit", "500MB")
    assert "--memory-limit applies to a transaction log" in one_error_line(code, err)
    # neither writes over one of the log's files
    code, _, err = run(capsys, "score", tmp_path / "whole.custseg", folder,
                       "-o", folder / "b.csv", "-q", "--force")
    assert "is the input file" in one_error_line(code, err)
    code, _, err = run(capsys, "fit", folder, "--transactions", "-o", folder / "a.csv",
                       "--force")
    assert "is the input file" in one_error_line(code, err)
