"""The API description is exact: each answer a real server gives here (status, content type,
headers) is the one ``/openapi.json`` declares for that operation, the id patterns in its paths are
the ones the services check, and values the description forbids are refused with a 422 naming the
field. Each case is one the schema fuzzer found undocumented or accepted."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from aedetect.client import Client
from aedetect.services.models import ALIAS_PATTERN
from aedetect.services.paths import DATASET_ID_PATTERN, JOB_ID_PATTERN, NN_ID_PATTERN, VERSION_PATTERN
from support.server import FEATURES, ServerProcess, csv_bytes, nsl_kdd

V1_NETWORK = "/api/v1/type/common/target/nninfo/nnid/{nnid}/"
MAX_VERSION = 2**31 - 1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with one model that is created but not trained."""
    server = ServerProcess(tmp_path_factory.mktemp("contract") / "data").start()
    try:
        with Client(server.base, api_key=server.key) as api:
            dataset = api.upload_dataset(
                io.BytesIO(csv_bytes(nsl_kdd("KDDTrain+_20Percent.txt", 50))), "t.csv"
            )
            api.create_model("untrained", dataset=dataset["id"], columns=FEATURES)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def doc(server: ServerProcess) -> dict[str, Any]:
    description: dict[str, Any] = requests.get(f"{server.base}/openapi.json", timeout=60).json()
    return description


def call(server: ServerProcess, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {server.key}", **kwargs.pop("headers", {})}
    return requests.request(method, server.base + path, headers=headers, timeout=60, **kwargs)


def assert_documented(doc: dict[str, Any], method: str, template: str, response: requests.Response) -> None:
    """``response`` has a status the operation declares, with a declared content type if it has a body."""
    declared = doc["paths"][template][method.lower()]["responses"]
    status = str(response.status_code)
    assert status in declared, f"{method} {template} answered {status}, declared: {sorted(declared)}"
    media = response.headers.get("content-type", "").split(";")[0]
    if media:
        assert media in declared[status].get("content", {}), (status, media, declared[status])


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in {"get", "put", "post", "patch", "delete"}:
                yield method, path, operation


def test_error_answers_the_fuzzer_found_are_declared(server: ServerProcess, doc: dict[str, Any]) -> None:
    revoked = call(server, "DELETE", "/auth/keys/nosuchkey")
    assert revoked.status_code == 404
    assert_documented(doc, "DELETE", "/auth/keys/{key_id}", revoked)
    audit = call(server, "GET", "/auth/audit", params={"limit": 0})
    assert audit.status_code == 422 and "limit" in audit.text
    assert_documented(doc, "GET", "/auth/audit", audit)
    alias = call(server, "GET", "/api/v2/models/untrained/aliases/production")
    assert alias.status_code == 409, alias.text
    assert_documented(doc, "GET", "/api/v2/models/{name}/aliases/{alias}", alias)


def test_answers_any_route_may_give_are_declared_with_their_headers(doc: dict[str, Any]) -> None:
    for method, path, operation in operations(doc):
        if path == "/healthz":
            continue
        responses = operation["responses"]
        label = f"{method.upper()} {path}"
        assert {"408", "503"} <= set(responses), label
        assert "Retry-After" in responses["503"]["headers"], label
        if operation["security"]:  # needs a key: wrong keys from an address meet 429
            assert "Retry-After" in responses["429"]["headers"], label
        for status, response in responses.items():
            if status[0] in "45":
                assert response.get("content"), f"{label} {status} has no declared body"
    models = doc["paths"]["/api/v2/models"]
    for method, path in [("post", "/api/v2/models"), ("patch", "/api/v2/models/{name}"),
                         ("post", "/api/v2/models/{name}/train")]:  # fmt: skip
        assert "413" in doc["paths"][path][method]["responses"], path  # the training budget
    assert "413" in models["post"]["responses"]


def test_sign_in_and_out_are_declared_as_pages_and_redirects(
    server: ServerProcess, doc: dict[str, Any]
) -> None:
    page = requests.get(f"{server.base}/auth/login", timeout=60)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert_documented(doc, "GET", "/auth/login", page)
    wrong = requests.post(f"{server.base}/auth/login", data={"key": "aed_wrong"}, timeout=60)
    assert wrong.status_code == 401 and wrong.headers["content-type"].startswith("text/html")
    assert_documented(doc, "POST", "/auth/login", wrong)
    signed_in = requests.post(
        f"{server.base}/auth/login", data={"key": server.key}, allow_redirects=False, timeout=60
    )
    assert signed_in.status_code == 303
    assert_documented(doc, "POST", "/auth/login", signed_in)
    out = requests.post(f"{server.base}/auth/logout", allow_redirects=False, timeout=60)
    assert out.status_code == 303
    assert_documented(doc, "POST", "/auth/logout", out)


def test_job_events_are_declared_as_an_event_stream(doc: dict[str, Any]) -> None:
    answer = doc["paths"]["/api/v2/jobs/{job_id}/events"]["get"]["responses"]["200"]
    assert set(answer["content"]) == {"text/event-stream"}


@pytest.mark.parametrize(
    "path",
    [V1_NETWORK, V1_NETWORK + "version/{ver}/", "/api/v2/models/{name}", "/auth/keys/{key_id}"],
)
def test_allow_lists_every_method_the_path_takes(
    server: ServerProcess, doc: dict[str, Any], path: str
) -> None:
    declared = {method.upper() for method in doc["paths"][path]}
    concrete = path.format(nnid="net1", ver=1, name="net1", key_id="x")
    for method in ("OPTIONS", "TRACE"):
        refused = call(server, method, concrete)
        assert refused.status_code == 405, refused.text
        assert set(refused.headers["allow"].split(", ")) == declared, (method, path)


def test_path_parameters_carry_the_patterns_the_services_check(
    server: ServerProcess, doc: dict[str, Any]
) -> None:
    patterns = {
        (path, parameter["name"]): parameter["schema"].get("pattern")
        for _, path, operation in operations(doc)
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path"
    }
    assert patterns[("/api/v2/datasets/{dataset_id}", "dataset_id")] == f"^{DATASET_ID_PATTERN.pattern}$"
    assert patterns[("/api/v2/jobs/{job_id}", "job_id")] == f"^{JOB_ID_PATTERN.pattern}$"
    assert patterns[("/api/v2/models/{name}", "name")] == f"^{NN_ID_PATTERN.pattern}$"
    assert patterns[(V1_NETWORK, "nnid")] == f"^{NN_ID_PATTERN.pattern}$"
    assert patterns[("/api/v2/models/{name}/aliases/{alias}", "alias")] == f"^{ALIAS_PATTERN.pattern}$"
    version = re.compile(patterns[(V1_NETWORK + "version/{ver}/", "ver")])
    assert all(version.search(str(n)) for n in (1, 9, 10, 999_999_999, 2_000_000_000, MAX_VERSION))
    assert not any(version.search(text) for text in ("0", str(MAX_VERSION + 1), "9999999999", "-1", "1.5"))
    assert VERSION_PATTERN.pattern in version.pattern
    # what the pattern admits the server takes (404: no such thing), what it refuses the server refuses
    assert call(server, "GET", "/api/v2/datasets/ds_0123456789ab").status_code == 404
    assert call(server, "GET", "/api/v2/jobs/" + "0" * 32).status_code == 404
    assert call(server, "GET", "/api/v2/datasets/0").status_code == 400
    assert (
        call(server, "GET", V1_NETWORK.format(nnid="net1") + f"version/{MAX_VERSION + 1}/").status_code == 400
    )


def test_values_the_description_forbids_are_refused_naming_the_field(server: ServerProcess) -> None:
    for until in ("0.5", "1700000000"):
        refused = call(server, "GET", "/api/v2/models/untrained/scores", params={"until": until})
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == "until"
    taken = call(server, "GET", "/api/v2/models/untrained/scores", params={"until": "2026-12-02T00:00:00Z"})
    assert taken.status_code != 422, taken.text
    refused = call(server, "POST", "/api/v2/models/untrained/train", json={"feedback": 0})
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "feedback"


def test_a_delimiter_the_parser_cannot_take_is_refused_naming_it(server: ServerProcess) -> None:
    """Found by the fuzzer: a non-ASCII delimiter was a 500 from the CSV parser."""
    refused = call(
        server,
        "POST",
        "/api/v2/datasets",
        params={"delimiter": "\x82"},
        files={"file": ("t.csv", b"a;b\n1;2\n3;4\n")},
    )
    assert refused.status_code == 400, refused.text
    assert "delimiter must be one ASCII character" in refused.json()["detail"]
