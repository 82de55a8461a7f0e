"""Property-based fuzzing of the service from its own OpenAPI document (schemathesis):
no request it generates gets a 5xx, an undocumented status or a response that breaks the
documented schema. A first pass, bounded in examples, of the keyless app; the binary
bodies (Parquet, Excel, gzip) need serializers schemathesis lacks and are skipped."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis")

from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from custseg.io.rulebooks import default_rulebook  # noqa: E402
from custseg.model.segmentation import ModelConfig, fit_model  # noqa: E402
from custseg.service import Settings, create_app  # noqa: E402
from custseg.table.sample import make_customers  # noqa: E402

MODEL = fit_model(make_customers(300, seed=3), ModelConfig(params={"n_clusters": 4}),
                  default_rulebook())
# the default byte caps: schemathesis counts a 413 as accepting what the schema forbids,
# so its long strings must meet the text limit (422) before any byte cap
APP = create_app(MODEL, Settings(max_rows=20))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_no_request_breaks_the_documented_contract(case):
    # Every check but "schema-valid data is accepted": a file body's validity is its
    # content, which no schema states (random bytes are a 400), and a customer's keys may
    # be valid one by one yet clash as headers ("age" and "Age": a 422, as in a file).
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
