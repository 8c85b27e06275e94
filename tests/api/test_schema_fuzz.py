"""Schema fuzzing of both APIs against one real server: schemathesis generates requests, valid and
invalid, from ``/openapi.json`` for every operation of the v1 API (path parameters included) and of
the native ``/api/v2`` API, and every answer must be no server error and conform to the
description: a documented status, the documented content type and a body of the documented schema
(for v1 the double-encoded string).

Bounded in examples per operation and in time: once an API's time budget is spent, the operations
left get :data:`MIN_EXAMPLES` each, so every operation is still fuzzed. The server has small limits,
so that no request costs much, and a trained model, so that scoring requests reach the model.
(The operations are walked here rather than through schemathesis' pytest plugin, which does not
run on the pytest this project uses.)"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from aedetect.client import Client
from support.server import FEATURES, ServerProcess, csv_bytes, nsl_kdd

EXAMPLES_PER_OPERATION = 20
MIN_EXAMPLES = 3
"""Examples per operation once the time budget is spent."""
BUDGET_S = {"v1": 240.0, "v2": 240.0}
"""Time per API after which the remaining operations get MIN_EXAMPLES each."""
V1_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MIN_OPERATIONS = {"v1": 25, "v2": 20}


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with small limits and one trained model (a v1 network is a v2 model)."""
    server = ServerProcess(
        tmp_path_factory.mktemp("fuzz") / "data",
        AEDETECT_MAX_UPLOAD_BYTES="100000",
        AEDETECT_MAX_JSON_BYTES="100000",
        AEDETECT_MAX_EPOCHS="3",
        AEDETECT_MAX_PREDICT_ROWS="100",
        AEDETECT_AUTH_FAILURES="1000000",  # its wrong-key checks would otherwise meet the 429 limit
    ).start()
    try:
        with Client(server.base, api_key=server.key) as api:
            dataset = api.upload_dataset(
                io.BytesIO(csv_bytes(nsl_kdd("KDDTrain+_20Percent.txt", 300))), "t.csv"
            )
            api.create_model(
                "fuzzed", dataset=dataset["id"], columns=FEATURES, params={"epochs": 2, "n_hidden": [16, 4]}
            )
            assert api.train("fuzzed", wait=True, progress=False)["status"] == "succeeded"
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_every_operation_conforms_to_its_description(fuzzed_server: ServerProcess, api: str) -> None:
    schema = schemathesis.openapi.from_url(fuzzed_server.base + "/openapi.json").include(
        path_regex=f"^/api/{api}/"
    )
    headers = {"Authorization": f"Bearer {fuzzed_server.key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= MIN_OPERATIONS[api], [op.label for op in operations]
    deadline = time.monotonic() + BUDGET_S[api]
    failures: dict[str, str] = {}
    for operation in operations:
        examples = EXAMPLES_PER_OPERATION if time.monotonic() < deadline else MIN_EXAMPLES

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: schemathesis.Case) -> None:
            if api == "v1":
                case.call_and_validate(headers=headers, checks=V1_CHECKS, timeout=60)
            else:
                # Random ids name nothing, so valid-looking requests rightly get 404: only the checks
                # that hold for any request run (server errors, documented statuses, types, schemas).
                case.call_and_validate(
                    headers=headers, excluded_checks=[positive_data_acceptance], timeout=60
                )

        try:
            check()
        except Exception as exc:  # every operation is fuzzed; all failures are reported together
            failures[operation.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
