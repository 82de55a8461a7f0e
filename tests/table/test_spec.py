"""Labels with units, and the NAME=VALUE lines the dashboard reads."""

from __future__ import annotations

import pytest


def test_a_label_that_says_its_unit_is_not_given_it_twice():
    from custseg.table.spec import Feature, InputSpec, with_unit

    spec = InputSpec(extra=(Feature("Recency (days)", "column", role="recency", unit="days",
                                     column="Recency (days)"),
                            Feature("Recency", "column", role="recency", unit="days",
                                    column="Recency")))
    assert with_unit("Recency (days)", spec) == "Recency (days)"
    assert with_unit("Recency", spec) == "Recency (days)"
    assert with_unit("age") == "Age (years)"


def test_date_format_lines_take_the_value_after_the_last_equals_sign():
    from custseg.errors import ParameterError
    from custseg.table.choices import assignment_lines

    assert assignment_lines("# a comment\nA=B=%d-%m-%Y\n Joined = %Y ", "the date format",
                            "date_formats") == {"A=B": "%d-%m-%Y", "Joined": "%Y"}
    with pytest.raises(ParameterError, match=r"the date format 'Joined' should look like "
                       r"COLUMN=FORMAT\."):
        assignment_lines("Joined", "the date format", "date_formats")
    with pytest.raises(ParameterError, match=r"the date format gives 'J' twice\."):
        assignment_lines("J=%Y\nJ=%d", "the date format", "date_formats")
