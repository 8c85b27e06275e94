"""The artifact store contract, on a directory (:class:`LocalStore`) and on S3 (:class:`S3Store`
against moto's S3 server, through the same boto3 code users run): files and directories are
published whole, reads see the current content, multi-file uploads are all or none, deletes can
be undone until purged, partial writes are swept by age, and keys cannot leave the store."""

from __future__ import annotations

import io
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from aedetect.errors import InvalidInput, StorageUnavailable
from aedetect.storage import TEMP_PREFIX, ArtifactStore, LocalStore


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    endpoint = request.getfixturevalue("s3_bucket")
    from aedetect.storage.s3 import S3Store, make_s3_client

    client = make_s3_client(endpoint.url, endpoint.region, endpoint.access_key_id, endpoint.secret_access_key)
    made = S3Store(client, endpoint.bucket, "prefix/", tmp_path / "cache")
    made.check()
    return made


def write(store: ArtifactStore, key: str, data: bytes) -> None:
    with store.writing_file(key) as temp:
        temp.write_bytes(data)


def test_a_written_file_reads_back_and_a_rewrite_replaces_it(store: ArtifactStore) -> None:
    write(store, "datasets/ds_000000000001.csv", b"a,b\n1,2\n")
    assert store.exists("datasets/ds_000000000001.csv")
    assert store.local_file("datasets/ds_000000000001.csv").read_bytes() == b"a,b\n1,2\n"
    write(store, "datasets/ds_000000000001.csv", b"a,b\n3,4\n")
    assert store.local_file("datasets/ds_000000000001.csv").read_bytes() == b"a,b\n3,4\n"


def test_a_failed_write_publishes_nothing(store: ArtifactStore) -> None:
    with pytest.raises(RuntimeError), store.writing_file("results/0123.csv") as temp:
        temp.write_bytes(b"half")
        raise RuntimeError("disk went away")
    assert not store.exists("results/0123.csv")
    with pytest.raises(FileNotFoundError):
        store.local_file("results/0123.csv").read_bytes()
    assert store.sweep() == 0  # nothing temporary was left either


def test_a_directory_is_published_whole_and_replaced_whole(store: ArtifactStore) -> None:
    with store.writing_dir("models/m/1/m_1_1") as temp:
        temp.mkdir()
        (temp / "model.json").write_text("{}")
        (temp / "weights.safetensors").write_bytes(b"w1")
        (temp / "old.txt").write_text("gone after the rewrite")
    with store.writing_dir("models/m/1/m_1_1") as temp:
        temp.mkdir()
        (temp / "model.json").write_text('{"v": 2}')
        (temp / "weights.safetensors").write_bytes(b"w2")
    local = store.local_dir("models/m/1/m_1_1")
    assert sorted(p.name for p in local.iterdir()) == ["model.json", "weights.safetensors"]
    assert (local / "weights.safetensors").read_bytes() == b"w2"
    with pytest.raises(RuntimeError), store.writing_dir("models/m/1/m_1_2") as temp:
        temp.mkdir()
        (temp / "model.json").write_text("{}")
        raise RuntimeError("training failed while saving")
    assert not store.exists("models/m/1/m_1_2")


class FailingRead(io.BytesIO):
    """A stream that breaks after its first read (a client that went away mid-upload)."""

    def read(self, size: int | None = -1) -> bytes:
        raise OSError("connection reset")


def test_several_files_are_stored_all_or_none(store: ArtifactStore) -> None:
    write(store, "networks/n/1/datasrc/a.csv", b"old a")
    files: list[tuple[str, BinaryIO]] = [
        ("networks/n/1/datasrc/a.csv", io.BytesIO(b"new a")),
        ("networks/n/1/datasrc/b.csv", FailingRead(b"")),
    ]
    with pytest.raises(OSError, match="connection reset"):
        store.put_files(files)
    assert store.local_file("networks/n/1/datasrc/a.csv").read_bytes() == b"old a"
    assert not store.exists("networks/n/1/datasrc/b.csv")
    store.put_files(
        [
            ("networks/n/1/datasrc/a.csv", io.BytesIO(b"new a")),
            ("networks/n/1/datasrc/b.csv", io.BytesIO(b"b")),
        ]
    )
    assert store.local_file("networks/n/1/datasrc/a.csv").read_bytes() == b"new a"
    assert store.local_file("networks/n/1/datasrc/b.csv").read_bytes() == b"b"
    assert store.sweep() == 0  # no temporary object or file is left behind


def test_a_delete_set_aside_can_be_restored_or_purged(store: ArtifactStore) -> None:
    write(store, "networks/n/1/datasrc/a.csv", b"a")
    write(store, "models/n/1/n_1_1.scores.npy", b"s")
    aside = store.move_aside(["networks/n", "models/n", "networks/absent"], "deleting network n")
    store.restore(aside)
    assert store.local_file("networks/n/1/datasrc/a.csv").read_bytes() == b"a"
    aside = store.move_aside(["networks/n", "models/n"], "deleting network n")
    store.purge(aside)
    assert not store.exists("networks/n") and not store.exists("models/n")


def test_sweep_keeps_recent_partial_writes_when_asked_for_old_ones_only(store: ArtifactStore) -> None:
    files: list[tuple[str, BinaryIO]] = [("datasets/ds_000000000002.csv", io.BytesIO(b"x"))]
    store.put_files(files)
    if isinstance(store, LocalStore):
        partial = store.path(f"datasets/{TEMP_PREFIX}upload")
        partial.write_bytes(b"half")
        os.utime(partial, (time.time() - 3600, time.time() - 3600))
        store.path(f"datasets/{TEMP_PREFIX}fresh").write_bytes(b"half")
    else:
        client, bucket = store._client, store._bucket  # type: ignore[attr-defined]
        client.put_object(Bucket=bucket, Key=f"prefix/datasets/{TEMP_PREFIX}upload", Body=b"half")
    assert store.sweep(older_than_s=600) == (1 if isinstance(store, LocalStore) else 0)
    assert store.sweep() == 1
    assert store.local_file("datasets/ds_000000000002.csv").read_bytes() == b"x"


@pytest.mark.parametrize("key", ["../escape", "a/../../b", "/etc/passwd", "a//b", "a\\b", "", "a/./b"])
def test_keys_that_could_leave_the_store_are_refused(store: ArtifactStore, key: str) -> None:
    with pytest.raises(InvalidInput, match="invalid artifact key"):
        store.exists(key)
    with pytest.raises(InvalidInput, match="invalid artifact key"), store.writing_file(key):
        pass


def test_an_unwritable_directory_store_is_refused_naming_its_setting(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store", "AEDETECT_ARTIFACT_URL")
    store.check()
    # read-only for root too: an immutable attribute rather than permissions
    lock, undo = (
        (["chattr", "+i"], ["chattr", "-i"]) if os.geteuid() == 0 else (["chmod", "555"], ["chmod", "755"])
    )
    subprocess.run([*lock, str(store.root)], check=True)
    try:
        with pytest.raises(
            StorageUnavailable, match=r"artifact store \(AEDETECT_ARTIFACT_URL\) is not writable"
        ):
            store.check_writable("models/n/1", "preparing to train")
    finally:
        subprocess.run([*undo, str(store.root)], check=True)


@pytest.fixture
def unreachable_s3(tmp_path: Path) -> Iterator[ArtifactStore]:
    """An S3 store whose endpoint nothing listens on."""
    pytest.importorskip("boto3")
    import socket

    from aedetect.storage.s3 import S3Store, make_s3_client

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_s3_client(f"http://127.0.0.1:{port}", "us-east-1", "testing", "testing")
    yield S3Store(client, "absent", "", tmp_path / "cache")


def test_an_unreachable_s3_store_is_a_503_naming_the_setting_without_secrets(
    unreachable_s3: ArtifactStore,
) -> None:
    with pytest.raises(StorageUnavailable) as caught:
        unreachable_s3.check_writable("models/n/1", "preparing to train")
    message = caught.value.message
    assert "AEDETECT_ARTIFACT_URL" in message and "preparing to train" in message
    assert "testing" not in message  # neither the key id nor the secret


def test_a_missing_bucket_is_named_at_start_up(s3_bucket, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from aedetect.storage.s3 import S3Store, make_s3_client

    client = make_s3_client(
        s3_bucket.url, s3_bucket.region, s3_bucket.access_key_id, s3_bucket.secret_access_key
    )
    with pytest.raises(StorageUnavailable, match="no bucket 'nope-not-here'"):
        S3Store(client, "nope-not-here", "", tmp_path / "cache").check()


def test_s3_urls_are_parsed_and_refused_when_malformed() -> None:
    pytest.importorskip("boto3")
    from aedetect.storage.s3 import parse_s3_url

    assert parse_s3_url("s3://bucket") == ("bucket", "")
    assert parse_s3_url("s3://bucket/a/b/") == ("bucket", "a/b/")
    with pytest.raises(InvalidInput, match="AEDETECT_ARTIFACT_URL"):
        parse_s3_url("s3:///no-bucket")


def test_exists_tells_a_key_from_keys_that_merely_start_like_it(store: ArtifactStore) -> None:
    for key in ("models/n-x/a", "models/n-y/b", "models/n/c", "models/nn"):
        write(store, key, b"x")
    assert store.exists("models/n") and store.exists("models/n/c") and store.exists("models/nn")
    assert not store.exists("models/m") and not store.exists("models/n/c.d") and not store.exists("models/n-")
