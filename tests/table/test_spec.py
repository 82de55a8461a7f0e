

def test_a_label_that_says_its_unit_is_not_given_it_twice():
    from custseg.table.spec import Feature, InputSpec, with_unit

    spec = InputSpec(extra=(Feature("Recency (days)", "column", role="recency", unit="days",
                                     column="Recency (days)"),
                            Feature("Recency", "column", role="recency", unit="days",
                                    column="Recency")))
    assert with_unit("Recency (days)", spec) == "Recency (days)"
    assert with_unit("Recency", spec) == "Recency (days)"
    assert with_unit("age") == "Age (years)"
