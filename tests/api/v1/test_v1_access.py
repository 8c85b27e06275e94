"""Keys and roles against a real server: nobody changes anything without a key, each role does
what it may and no more, foreign web origins and host names are refused, browsers sign in with
a cookie, and every state change lands in the audit log."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from support.server import FEATURES, KEY_PATTERN, V1, ServerProcess, V1Client, wait_for

NETWORKS = "common/target/nninfo/nnid/"


def keyed(server: ServerProcess, key: str) -> V1Client:
    """A v1 client carrying ``key`` in its url, as old scripts do (``key:<KEY>@host:port``)."""
    return V1Client(server.base.replace("http://", f"http://key:{key}@"))


def body(resp: requests.Response) -> Any:
    return json.loads(resp.json())


@pytest.fixture(scope="module")
def keys(v1_server: ServerProcess) -> dict[str, str]:
    return {role: v1_server.make_key(role, f"{role} tests") for role in ("reader", "writer", "admin")}


def test_no_key_is_401_saying_how_to_send_one(v1_server: ServerProcess) -> None:
    resp = requests.get(v1_server.base + V1 + NETWORKS + "all/", timeout=30)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    message = body(resp)["result"]
    assert "Authorization: Bearer" in message and "key:<key>@host:port" in message
    assert "aedetect keys create" in message


def test_wrong_or_malformed_key_is_401(v1_server: ServerProcess) -> None:
    for header in ("Bearer aed_00000000_" + "x" * 43, "Bearer nonsense", "Basic !!!", "Digest abc"):
        resp = requests.get(
            v1_server.base + V1 + NETWORKS + "all/", headers={"Authorization": header}, timeout=30
        )
        assert resp.status_code == 401, header
        assert "not valid" in body(resp)["result"]


def test_health_docs_and_login_page_need_no_key(v1_server: ServerProcess) -> None:
    for path in ("/healthz", "/docs", "/openapi.json", "/auth/login"):
        assert requests.get(v1_server.base + path, timeout=30).status_code == 200, path


def test_bearer_and_basic_carry_the_same_key(v1_server: ServerProcess, keys: dict[str, str]) -> None:
    url = v1_server.base + V1 + NETWORKS + "all/"
    bearer = requests.get(url, headers={"Authorization": f"Bearer {keys['reader']}"}, timeout=30)
    token = base64.b64encode(f"key:{keys['reader']}".encode()).decode()
    basic = requests.get(url, headers={"Authorization": f"Basic {token}"}, timeout=30)
    assert bearer.status_code == basic.status_code == 200
    assert body(bearer) == body(basic)


def test_reader_lists_and_scores_but_changes_nothing(
    v1_server: ServerProcess, keys: dict[str, str], trained: str, eval_frame: pd.DataFrame
) -> None:
    reader = keyed(v1_server, keys["reader"])
    assert trained in [n["nn_id"] for n in reader.call("GET", NETWORKS + "all/")]
    assert isinstance(reader.anomaly(trained, eval_frame.iloc[0][FEATURES].to_dict()), float)
    reader.error(
        "POST", NETWORKS + "nnbyreader/", 403, "needs the writer role", "has the reader role", json={}
    )
    reader.error("DELETE", NETWORKS + f"{trained}/", 403, "needs the admin role")
    assert (
        requests.get(v1_server.base + "/auth/keys", auth=("key", keys["reader"]), timeout=30).status_code
        == 403
    )
    keyed(v1_server, keys["admin"]).error("GET", NETWORKS + "nnbyreader/", 404)


def test_writer_builds_and_trains_but_cannot_delete(
    v1_server: ServerProcess, keys: dict[str, str], train_frame: pd.DataFrame
) -> None:
    writer = keyed(v1_server, keys["writer"])
    writer.trained_network("nnbywriter", train_frame.iloc[:100], FEATURES)
    assert writer.runs("nnbywriter")[0]["status"] == "succeeded"
    writer.error("DELETE", NETWORKS + "nnbywriter/", 403, "needs the admin role", "writer")
    writer.error("DELETE", writer.data_path("nnbywriter", "datasrc"), 403, "admin")
    assert (
        requests.post(
            v1_server.base + "/auth/keys", json={"role": "admin"}, auth=("key", keys["writer"]), timeout=30
        ).status_code
        == 403
    )
    assert keyed(v1_server, keys["admin"]).call("DELETE", NETWORKS + "nnbywriter/") == "nnbywriter"


def test_admin_makes_and_revokes_keys_and_a_revoked_key_stops_at_once(
    v1_server: ServerProcess, keys: dict[str, str]
) -> None:
    admin = ("key", keys["admin"])
    made = requests.post(
        v1_server.base + "/auth/keys", json={"role": "reader", "name": "dashboard"}, auth=admin, timeout=30
    )
    assert made.status_code == 201
    created = made.json()
    assert created["role"] == "reader" and KEY_PATTERN.fullmatch(created["key"])
    listed = requests.get(v1_server.base + "/auth/keys", auth=admin, timeout=30).json()
    assert next(k for k in listed if k["key_id"] == created["key_id"])["revoked_at"] is None
    assert all("key" not in k for k in listed)  # secrets are never listed
    fresh = keyed(v1_server, created["key"])
    fresh.call("GET", NETWORKS + "all/")
    revoked = requests.delete(v1_server.base + f"/auth/keys/{created['key_id']}", auth=admin, timeout=30)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    fresh.error("GET", NETWORKS + "all/", 401, "not valid")


def test_key_revoked_on_the_command_line_stops_within_seconds(v1_server: ServerProcess) -> None:
    key = v1_server.make_key("reader", "short-lived")
    client = keyed(v1_server, key)
    client.call("GET", NETWORKS + "all/")
    key_id = key.split("_")[1]
    done = subprocess.run(
        [sys.executable, "-m", "aedetect", "keys", "revoke", key_id],
        env=v1_server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and key_id in done.stdout
    wait_for(lambda: client.raw("GET", NETWORKS + "all/").status_code == 401, "the revoked key to stop", 30)


def test_state_change_from_a_foreign_web_origin_is_refused(
    v1_server: ServerProcess, keys: dict[str, str]
) -> None:
    admin = keyed(v1_server, keys["admin"])
    admin.error(
        "POST", NETWORKS + "nnfromweb/", 403, "http://evil.example", "AEDETECT_ALLOWED_ORIGINS",
        json={}, headers={"Origin": "http://evil.example"},
    )  # fmt: skip
    admin.error("GET", NETWORKS + "nnfromweb/", 404)
    assert admin.call("GET", NETWORKS + "all/", headers={"Origin": "http://evil.example"})  # reads are fine
    own = f"http://127.0.0.1:{v1_server.port}"
    assert admin.call("POST", NETWORKS + "nnfromweb/", json={}, headers={"Origin": own}) == "nnfromweb"
    admin.call("DELETE", NETWORKS + "nnfromweb/", headers={"Origin": own})


def test_a_host_name_the_server_does_not_answer_to_is_refused(
    v1_server: ServerProcess, keys: dict[str, str]
) -> None:
    """What a DNS-rebinding page sends: its own name, resolved to 127.0.0.1."""
    admin = keyed(v1_server, keys["admin"])
    admin.error(
        "GET", NETWORKS + "all/", 400, "evil.example", "AEDETECT_ALLOWED_HOSTS",
        headers={"Host": f"evil.example:{v1_server.port}"},
    )  # fmt: skip
    assert (
        requests.get(v1_server.base + "/healthz", headers={"Host": "evil.example"}, timeout=30).status_code
        == 400
    )
    assert admin.call("GET", NETWORKS + "all/", headers={"Host": f"localhost:{v1_server.port}"})


def test_audit_log_records_who_changed_what_and_when(
    v1_server: ServerProcess, keys: dict[str, str], trained: str, eval_frame: pd.DataFrame
) -> None:
    # a key of its own: a key's first refusal in a window is recorded at once, the rest counted
    fresh_reader = v1_server.make_key("reader", "audited reader")
    writer, reader = keyed(v1_server, keys["writer"]), keyed(v1_server, fresh_reader)
    writer.call("POST", NETWORKS + "nnaudited/", json={"nn_title": "audited"})
    reader.error("POST", NETWORKS + "nnrefused/", 403)
    reader.anomaly(trained, eval_frame.iloc[0][FEATURES].to_dict())
    entries = requests.get(
        v1_server.base + "/auth/audit", params={"limit": 50}, auth=("key", keys["admin"]), timeout=30
    ).json()["items"]
    created = next(e for e in entries if e["path"].endswith("/nnaudited/"))
    assert (created["method"], created["status"], created["actor"], created["role"]) == (
        "POST", 200, "writer tests", "writer",
    )  # fmt: skip
    assert created["key_id"] == keys["writer"].split("_")[1] and created["at"]
    refused = next(e for e in entries if e["path"].endswith("/nnrefused/"))
    assert (refused["status"], refused["role"]) == (403, "reader")
    assert not any("/predict/" in e["path"] for e in entries)  # scoring changes nothing
    # reads are not audited; wrong keys are, one entry per address and minute (whenever it closes)
    assert not any(e["method"] == "GET" and not e["actor"].startswith("unknown key") for e in entries)
    assert (
        requests.get(v1_server.base + "/auth/audit", auth=("key", keys["writer"]), timeout=30).status_code
        == 403
    )


def test_browser_signs_in_with_an_httponly_samesite_cookie(
    v1_server: ServerProcess, keys: dict[str, str]
) -> None:
    browser = requests.Session()
    page = browser.get(v1_server.base + "/auth/login", timeout=30)
    assert page.status_code == 200 and 'name="key"' in page.text and 'type="password"' in page.text
    signed = browser.get(
        v1_server.base + "/auth/login", params={"key": keys["reader"], "next": "//evil.example/"},
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    whoami = browser.get(v1_server.base + "/auth/whoami", timeout=30).json()
    assert whoami["auth"] is True and whoami["key"]["role"] == "reader"
    assert browser.get(v1_server.base + V1 + NETWORKS + "all/", timeout=30).status_code == 200
    assert browser.post(v1_server.base + V1 + NETWORKS + "nncookie/", json={}, timeout=30).status_code == 403

    writer = requests.Session()
    form = writer.post(
        v1_server.base + "/auth/login", data={"key": keys["writer"], "next": "/auth/whoami"},
        headers={"Origin": "http://evil.example"}, allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert form.status_code == 403  # a foreign page cannot sign the browser in
    form = writer.post(
        v1_server.base + "/auth/login", data={"key": keys["writer"]}, allow_redirects=False, timeout=30
    )
    assert form.status_code == 303
    foreign = {"Origin": "http://evil.example"}
    assert (
        writer.post(
            v1_server.base + V1 + NETWORKS + "nncookie/", json={}, headers=foreign, timeout=30
        ).status_code
        == 403
    )
    assert writer.post(v1_server.base + V1 + NETWORKS + "nncookie/", json={}, timeout=30).status_code == 200
    assert writer.post(v1_server.base + "/auth/logout", allow_redirects=False, timeout=30).status_code == 303
    assert writer.get(v1_server.base + V1 + NETWORKS + "all/", timeout=30).status_code == 401
    bad = requests.get(v1_server.base + "/auth/login", params={"key": "aed_nope"}, timeout=30)
    assert bad.status_code == 401 and "set-cookie" not in bad.headers


def test_a_browser_page_without_a_key_goes_to_the_sign_in_page(v1_server: ServerProcess) -> None:
    page = requests.get(
        v1_server.base + "/auth/whoami", headers={"Accept": "text/html"}, allow_redirects=False, timeout=30
    )
    assert page.status_code == 303 and page.headers["location"] == "/auth/login?next=%2Fauth%2Fwhoami"
    api = requests.get(v1_server.base + V1 + NETWORKS + "all/", headers={"Accept": "text/html"}, timeout=30)
    assert api.status_code == 401  # API paths answer with the error, for scripts and fetch()


def test_first_start_prints_an_admin_key_once(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        assert "first start" in server.log() and server.key in server.log()
        whoami = requests.get(server.url + "/auth/whoami", timeout=30).json()
        assert whoami["key"]["role"] == "admin"
        server.stop()
        server.start()
        assert set(KEY_PATTERN.findall(server.log())) == {server.key}  # no second key at a restart
        assert requests.get(server.url + V1 + NETWORKS + "all/", timeout=30).status_code == 200
    finally:
        server.stop()


def test_auth_off_on_loopback_needs_no_key_and_still_audits(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", AEDETECT_AUTH="false").start()
    try:
        assert server.key is None and "first start" not in server.log()
        client = V1Client(server.base)
        assert client.call("POST", NETWORKS + "nnopen/", json={}) == "nnopen"
        entries = requests.get(server.base + "/auth/audit", timeout=30).json()["items"]
        assert entries[0]["actor"] == "anonymous (auth off)" and entries[0]["path"].endswith("/nnopen/")
        client.error("POST", NETWORKS + "nnweb/", 403, json={}, headers={"Origin": "http://evil.example"})
    finally:
        server.stop()


def test_auth_off_beyond_loopback_refuses_to_start(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", AEDETECT_AUTH="false", AEDETECT_HOST="0.0.0.0")
    done = subprocess.run(
        [sys.executable, "-m", "aedetect", "serve"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "AEDETECT_AUTH=false is allowed only when the server binds to loopback" in done.stderr
