"""Schema fuzzing of the native API: schemathesis generates requests from ``/openapi.json`` and
sends them to a real server, bounded in examples per operation. Zero server errors, and every
answer must match the documented status codes, content types and schemas."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from v1_support import ServerProcess

MAX_EXAMPLES = 20
"""Generated requests per operation (the whole fuzzing stays within a few minutes)."""


def test_native_api_matches_its_schema(v2_server: ServerProcess, trained: str) -> None:
    schema = schemathesis.openapi.from_url(v2_server.base + "/openapi.json").include(path_regex="^/api/v2/")
    headers = {"Authorization": f"Bearer {v2_server.key}"}
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, [op.label for op in operations]
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            # Random ids name nothing, so valid-looking requests rightly get 404: only the checks
            # that hold for any request run (server errors, documented statuses, types, schemas).
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance], timeout=60)

        try:
            fuzz()
        except Exception as exc:  # collect every operation's failure, then report them together
            failures[operation.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
