"""The artifact store on S3-compatible object storage (AWS S3, MinIO, Ceph...), through boto3.

Keys become object names below ``s3://bucket/prefix``. A single object is published by one PUT,
which S3 makes visible whole or not at all; a model directory is its objects, and it becomes
visible to scoring only when the registry records its key after the last object is written. The
all-or-none upload of several files writes temporary objects first and copies them into place.
Reads go through a local cache directory: a file is downloaded once per content (its ETag is in
the cached name), so every host reads current content and a model is fetched once per host.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from aedetect.errors import ARTIFACT_URL_SETTING, InvalidInput, StorageUnavailable, quoted
from aedetect.storage.base import TEMP_PREFIX, ArtifactStore, SetAside, check_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

DELETE_BATCH = 1000
"""Most objects one DeleteObjects request may name."""


def parse_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/some/prefix``; the prefix is empty or ends with '/'."""
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if not url.startswith("s3://") or not bucket:
        raise InvalidInput(
            f"{ARTIFACT_URL_SETTING} {quoted(url)} is not an s3://bucket/prefix URL", field="artifact_url"
        )
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def _missing(exc: Exception) -> bool:
    """Whether a boto error means "no such object" (404 on HEAD, NoSuchKey on GET)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class S3Store(ArtifactStore):
    """Keys as objects of ``bucket`` below ``prefix``, read through ``cache_dir``.

    Parameters
    ----------
    client
        A boto3 S3 client (endpoint, region and credentials already set).
    bucket, prefix
        Where the objects live; ``prefix`` is empty or ends with '/'.
    cache_dir
        Local directory for downloaded copies and files being written (created if missing).
    """

    setting = ARTIFACT_URL_SETTING

    def __init__(self, client: S3Client, bucket: str, prefix: str, cache_dir: Path) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        self._client = client
        self._bucket = bucket
        self._prefix = prefix
        self._cache = cache_dir.expanduser().resolve()
        self._errors: tuple[type[Exception], ...] = (BotoCoreError, ClientError)

    # --- plumbing ------------------------------------------------------------------------------
    def _name(self, key: str) -> str:
        return self._prefix + check_key(key)

    def _key(self, name: str) -> str:
        return name[len(self._prefix) :]

    @contextmanager
    def _reported(self, doing: str) -> Iterator[None]:
        """Turn an unreachable or refusing store into a 503 naming the setting (never credentials
        or the endpoint's answer in full)."""
        try:
            yield
        except self._errors as exc:
            if _missing(exc):
                raise FileNotFoundError(doing) from exc
            code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
            logger.warning("artifact store error while %s: %s", doing, exc)
            raise StorageUnavailable(
                f"the artifact store ({self.setting}) refused or could not be reached while {doing} "
                f"({code}): nothing was changed; check the store's address and credentials, then "
                "send the request again"
            ) from exc

    def _objects(self, key: str) -> list[dict[str, Any]]:
        """Every object at ``key`` or below ``key/`` (name, ETag, size, modification time)."""
        name = self._name(key)
        found: list[dict[str, Any]] = []
        paginator = self._client.get_paginator("list_objects_v2")
        with self._reported(f"listing {key}"):
            for page in paginator.paginate(Bucket=self._bucket, Prefix=name):
                found.extend(
                    dict(item)
                    for item in page.get("Contents", [])
                    if item["Key"] == name or item["Key"].startswith(name + "/")
                )
        return found

    def _temp_path(self) -> Path:
        directory = self._cache / "tmp"
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f"{TEMP_PREFIX}{uuid.uuid4().hex}"

    def _upload(self, path: Path, key: str) -> None:
        with self._reported(f"writing {key}"):
            self._client.upload_file(str(path), self._bucket, self._name(key))

    def _delete_names(self, names: Sequence[str]) -> None:
        for start in range(0, len(names), DELETE_BATCH):
            batch: list[Any] = [{"Key": name} for name in names[start : start + DELETE_BATCH]]
            answer = self._client.delete_objects(
                Bucket=self._bucket, Delete={"Objects": batch, "Quiet": True}
            )
            for error in answer.get("Errors", []):
                logger.warning("could not delete %s: %s", error.get("Key"), error.get("Message"))

    # --- the interface -------------------------------------------------------------------------
    def describe(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}"

    def check(self) -> None:
        self._cache.mkdir(parents=True, exist_ok=True)
        try:
            with self._reported(f"opening bucket {self._bucket}"):
                self._client.head_bucket(Bucket=self._bucket)
        except FileNotFoundError:
            raise StorageUnavailable(
                f"the artifact store ({self.setting}) has no bucket {quoted(self._bucket)}: create it "
                "first (the service never creates buckets)"
            ) from None

    def exists(self, key: str) -> bool:
        name = self._name(key)
        try:
            with self._reported(f"looking up {key}"):
                self._client.head_object(Bucket=self._bucket, Key=name)
            return True
        except FileNotFoundError:
            pass
        with self._reported(f"looking up {key}"):
            answer = self._client.list_objects_v2(Bucket=self._bucket, Prefix=name + "/", MaxKeys=1)
        return bool(answer.get("Contents"))

    def local_file(self, key: str) -> Path:
        """The cached copy of ``key`` for its current content (downloaded when missing)."""
        with self._reported(f"reading {key}"):
            head = self._client.head_object(Bucket=self._bucket, Key=self._name(key))
        etag = str(head["ETag"]).strip('"').replace("-", "_")
        folder = self._cache / "objects" / check_key(key)
        cached = folder / etag / Path(key).name
        if cached.is_file():
            return cached
        temp = self._temp_path()
        try:
            with self._reported(f"reading {key}"):
                self._client.download_file(self._bucket, self._name(key), str(temp))
            cached.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp, cached)
        finally:
            temp.unlink(missing_ok=True)
        self._drop_other_copies(folder, keep=etag)
        return cached

    def local_dir(self, key: str) -> Path:
        """The cached copy of directory ``key`` for its current content (one listing, then
        downloaded when the content changed)."""
        objects = self._objects(key)
        prefix = self._name(key) + "/"
        objects = [o for o in objects if o["Key"].startswith(prefix)]
        if not objects:
            raise FileNotFoundError(f"nothing stored under {key}")
        digest = hashlib.sha256()
        for item in sorted(objects, key=lambda o: o["Key"]):
            digest.update(f"{item['Key']}\0{item['ETag']}\0".encode())
        tag = digest.hexdigest()[:32]
        folder = self._cache / "objects" / check_key(key)
        cached = folder / tag
        if cached.is_dir():
            return cached
        temp = self._temp_path()
        try:
            for item in objects:
                relative = item["Key"][len(prefix) :]
                target = temp / check_key(relative)
                target.parent.mkdir(parents=True, exist_ok=True)
                with self._reported(f"reading {key}"):
                    self._client.download_file(self._bucket, item["Key"], str(target))
            cached.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(temp, cached)
            except OSError:
                if not cached.is_dir():  # another process published the same content first
                    raise
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        self._drop_other_copies(folder, keep=tag)
        return cached

    @staticmethod
    def _drop_other_copies(folder: Path, keep: str) -> None:
        """Forget cached copies of older content of the same key (best effort: a reader that has
        one open keeps reading it)."""
        for other in folder.iterdir():
            if other.name != keep:
                shutil.rmtree(other, ignore_errors=True)

    @contextmanager
    def writing_file(self, key: str) -> Iterator[Path]:
        check_key(key)
        temp = self._temp_path()
        try:
            yield temp
            self._upload(temp, key)
        finally:
            temp.unlink(missing_ok=True)

    @contextmanager
    def writing_dir(self, key: str) -> Iterator[Path]:
        check_key(key)
        temp = self._temp_path()
        try:
            yield temp
            written = sorted(p for p in temp.rglob("*") if p.is_file())
            for path in written:
                self._upload(path, f"{key}/{path.relative_to(temp).as_posix()}")
            kept = {self._name(f"{key}/{p.relative_to(temp).as_posix()}") for p in written}
            stale = [o["Key"] for o in self._objects(key) if o["Key"] not in kept]
            if stale:
                with self._reported(f"replacing {key}"):
                    self._delete_names(stale)
        finally:
            shutil.rmtree(temp, ignore_errors=True)

    def put_files(self, files: Sequence[tuple[str, BinaryIO]]) -> None:
        temps: list[tuple[str, str]] = []
        try:
            for key, content in files:
                parent, _, name = check_key(key).rpartition("/")
                temp = (
                    f"{parent}/{TEMP_PREFIX}{name}-{uuid.uuid4().hex[:8]}"
                    if parent
                    else f"{TEMP_PREFIX}{name}"
                )
                content.seek(0)
                with self._reported(f"writing {key}"):
                    self._client.upload_fileobj(content, self._bucket, self._name(temp))
                temps.append((temp, key))
            for temp, key in temps:
                with self._reported(f"writing {key}"):
                    self._client.copy(
                        {"Bucket": self._bucket, "Key": self._name(temp)}, self._bucket, self._name(key)
                    )
        finally:
            if temps:
                try:
                    self._delete_names([self._name(temp) for temp, _ in temps])
                except self._errors as exc:
                    logger.warning("could not remove temporary upload objects (swept later): %s", exc)

    def check_writable(self, key: str, doing: str) -> None:
        probe = self._name(f"{key}/{TEMP_PREFIX}probe-{uuid.uuid4().hex[:8]}")
        with self._reported(doing):
            self._client.put_object(Bucket=self._bucket, Key=probe, Body=b"")
            self._client.delete_object(Bucket=self._bucket, Key=probe)

    def move_aside(self, keys: Sequence[str], doing: str) -> SetAside:
        """Nothing moves: objects cannot be renamed cheaply. The registry change comes first and
        :meth:`purge` deletes the objects after it, so a failed registry change leaves them as they
        were; objects a failed purge leaves behind are never served (no registry row names them)
        and are overwritten by a later write of the same key."""
        for key in keys:
            check_key(key)
        return SetAside([(key, None) for key in keys])

    def restore(self, aside: SetAside) -> None:
        return None

    def purge(self, aside: SetAside) -> None:
        self.remove([key for key, _ in aside.entries])

    def remove(self, keys: Sequence[str]) -> None:
        for key in keys:
            try:
                names = [o["Key"] for o in self._objects(key)]
                if names:
                    with self._reported(f"removing {key}"):
                        self._delete_names(names)
            except StorageUnavailable as exc:
                logger.warning("could not remove %s: %s", key, exc)

    def sweep(self, older_than_s: float | None = None) -> int:
        cutoff = None if older_than_s is None else datetime.now(UTC) - timedelta(seconds=older_than_s)
        stale = []
        paginator = self._client.get_paginator("list_objects_v2")
        with self._reported("sweeping partial writes"):
            for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix):
                for item in page.get("Contents", []):
                    parts = self._key(item["Key"]).split("/")
                    if any(part.startswith(TEMP_PREFIX) for part in parts) and (
                        cutoff is None or item["LastModified"] < cutoff
                    ):
                        stale.append(item["Key"])
            if stale:
                self._delete_names(stale)
        temps = self._cache / "tmp"
        local_cutoff = None if older_than_s is None else time.time() - older_than_s
        if temps.is_dir():
            for leftover in temps.iterdir():
                if local_cutoff is not None and leftover.lstat().st_mtime > local_cutoff:
                    continue
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
        return len(stale)


def make_s3_client(
    endpoint_url: str | None,
    region: str | None,
    access_key_id: str | None,
    secret_access_key: str | None,
) -> S3Client:
    """A boto3 S3 client; credentials not given here come from boto3's usual sources (environment,
    shared files, instance roles). A custom endpoint (MinIO, a test server) uses path-style
    addresses, which every S3-compatible server understands."""
    import boto3
    from botocore.config import Config

    config = Config(
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=10,
        read_timeout=120,
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=config,
    )
