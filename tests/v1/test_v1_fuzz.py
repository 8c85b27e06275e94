"""Schema fuzzing of the v1 API against a real server: schemathesis generates requests, valid and
invalid, for every v1 operation the OpenAPI description lists (path parameters included), and
every answer must be no server error and conform to the description: a documented status, the
documented content type and a body of the documented schema (the double-encoded string).

Bounded in examples per operation; the server has small limits so that no request costs much.
(The operations are walked here rather than through schemathesis' pytest plugin, which does not
run on the pytest this project uses.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from v1_support import ServerProcess

EXAMPLES_PER_OPERATION = 20
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(
        tmp_path_factory.mktemp("fuzz") / "data",
        AEDETECT_MAX_UPLOAD_BYTES="100000",
        AEDETECT_MAX_JSON_BYTES="100000",
        AEDETECT_MAX_EPOCHS="3",
        AEDETECT_MAX_PREDICT_ROWS="100",
    ).start()
    try:
        yield server
    finally:
        server.stop()


def test_every_v1_operation_conforms_to_its_description(fuzzed_server: ServerProcess) -> None:
    schema = schemathesis.openapi.from_url(fuzzed_server.base + "/openapi.json").include(
        path_regex="^/api/v1/"
    )
    headers = {"Authorization": f"Bearer {fuzzed_server.key}"}
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25, "the v1 operations are missing from the API description"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=60)

        try:
            check()
        except Exception as exc:  # every operation is fuzzed; all failures are reported together
            failures[operation.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
