"""Schema fuzzing of every API against one real server: schemathesis generates requests, valid and
invalid, from ``/openapi.json`` for every operation of the v1 API (path parameters included), of
the native ``/api/v2`` API and of ``/auth``, and runs all of its checks on every answer: no server
error; a documented status, content type, headers and body schema (for v1 the double-encoded
string); schema-valid requests taken and schema-violating ones refused; a true ``Allow`` on 405;
missing keys refused. Any finding fails the test; the few checks that cannot hold for an operation
are left out for exactly that operation, each with its reason (:data:`NOT_ALWAYS_ACCEPTED`).

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
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import positive_data_acceptance

from aedetect.client import Client
from support.server import FEATURES, ServerProcess, csv_bytes, nsl_kdd

EXAMPLES_PER_OPERATION = 20
MIN_EXAMPLES = 3
"""Examples per operation once the time budget is spent."""
BUDGET_S = {"v1": 240.0, "v2": 210.0, "auth": 30.0}
"""Time per API after which the remaining operations get MIN_EXAMPLES each."""
PATHS = {"v1": "^/api/v1/", "v2": "^/api/v2/", "auth": "^/auth/"}
MIN_OPERATIONS = {"v1": 25, "v2": 20, "auth": 8}
V1 = "/api/v1/type"
NETWORK = f"{V1}/common/target/nninfo/nnid/{{nnid}}/version/"
WF = f"{V1}/wf/state"
NODE = "nnid/{nnid}/ver/{ver}/node/{node}/"
RULE = "schema-valid values that break a rule the schema cannot state are refused (400/422 naming the field)"
V1_BODY = f"{RULE}: v1 bodies are free-form JSON (as TensorMSA sends them), checked by the service"
NOT_ALWAYS_ACCEPTED = {
    "POST /api/v2/datasets": "any bytes are a file in the schema; one that holds no table (an image) is not",
    "PUT /api/v2/models/{name}/versions/{version}/threshold": f"{RULE}: a strategy needs its parameter",
    "POST /api/v2/models/{name}/versions/{version}/threshold/proposal": f"{RULE}: as for the threshold",
    "POST /api/v2/models/{name}/score": f"{RULE}: rows or a CSV, one of them; rows need the model's columns",
    "POST /api/v2/models/{name}/feedback": f"{RULE}: rows or row ids, one of them",
    "DELETE /api/v2/models/{name}/aliases/{alias}": f"{RULE}: the production alias is never removed",
    f"POST {V1}/common/target/nninfo/nnid/{{nnid}}/": V1_BODY,
    f"PUT {V1}/common/target/nninfo/nnid/{{nnid}}/": V1_BODY,
    f"POST {NETWORK}": V1_BODY,
    f"PUT {NETWORK}": V1_BODY,
    f"PUT {NETWORK}{{ver}}/": f"{RULE}: choosing a model needs active_flag or eval_flag 'Y'",
    f"POST {V1}/wf/target/init/mode/simple/{{nnid}}/wfver/{{wfver}}/": V1_BODY,
    f"PUT {WF}/pre/detail/feed/src/frame/net/autoencoder/{NODE}": V1_BODY,
    f"POST {WF}/pre/detail/feed/src/frame/net/autoencoder/{NODE}": V1_BODY,
    f"PUT {WF}/netconf/detail/autoencoder/{NODE}": f"{V1_BODY}; epochs are bounded by AEDETECT_MAX_EPOCHS",
    f"PUT {WF}/eval/{NODE}": V1_BODY,
    f"PUT {WF}/framedata/src/{{src}}/form/{{form}}/prg/{{prg}}/{NODE}": f"{RULE}: prg source, pre or store",
}
"""Operations for which ``positive_data_acceptance`` is left out (every other check runs), and why."""


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


@pytest.mark.parametrize("api", list(PATHS))
def test_every_operation_conforms_to_its_description(fuzzed_server: ServerProcess, api: str) -> None:
    schema = schemathesis.openapi.from_url(fuzzed_server.base + "/openapi.json").include(
        path_regex=PATHS[api]
    )
    headers = {"Authorization": f"Bearer {fuzzed_server.key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= MIN_OPERATIONS[api], [op.label for op in operations]
    deadline = time.monotonic() + BUDGET_S[api]
    failures: dict[str, str] = {}
    for operation in operations:
        examples = EXAMPLES_PER_OPERATION if time.monotonic() < deadline else MIN_EXAMPLES
        try:
            fuzz(operation, examples, headers)
        except (Exception, BaseExceptionGroup) as exc:  # every operation is fuzzed; all failures reported
            failures[operation.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def fuzz(operation: APIOperation, examples: int, headers: dict[str, str]) -> None:
    """``examples`` requests to ``operation``, each answer under every check but those it leaves out."""
    excluded = [positive_data_acceptance] if operation.label in NOT_ALWAYS_ACCEPTED else []

    @given(case=operation.as_strategy())
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, excluded_checks=excluded, timeout=60)

    check()


def test_every_exclusion_names_an_operation(fuzzed_server: ServerProcess) -> None:
    """An exclusion outlives no operation: a renamed route must not keep a check switched off."""
    schema = schemathesis.openapi.from_url(fuzzed_server.base + "/openapi.json")
    labels = {result.ok().label for result in schema.get_all_operations()}
    assert set(NOT_ALWAYS_ACCEPTED) <= labels, set(NOT_ALWAYS_ACCEPTED) - labels
