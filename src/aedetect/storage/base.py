"""The artifact store interface: where uploads, models and scored files live, addressed by keys.

A key is a relative POSIX path such as ``models/plant-7/1/plant-7_1_1``; the services build keys
from ids they have checked (``services/paths.py``) and the store checks the shape of every key
again before it touches anything, so no key can leave the store. Files are published whole: a
writer gets a private temporary file or directory and the store makes it visible under its key
only once it is complete; the registry records the key after that (write, then record), so
nothing half-written is ever served. Nothing read from a store is unpickled.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from aedetect.errors import InvalidInput, quoted

TEMP_PREFIX = ".tmp-"
"""Prefix of what is being written (a model directory, an uploaded file) before it is published
under its key, or of what is being deleted (set aside first); anything left with it after a crash
is partial and removed by :meth:`ArtifactStore.sweep`."""

MAX_KEY_CHARS = 1000

_KEY_PART = re.compile(r"[^/\\\x00-\x1f]+")


def check_key(key: str) -> str:
    """``key`` if it is a relative path of plain parts (no ``.``/``..``, no empty part, no
    backslash or control character), else ``InvalidInput``: the last line of defence that keeps
    every key inside the store, whatever a caller built it from."""
    parts = key.split("/") if isinstance(key, str) else []
    if (
        not parts
        or len(key) > MAX_KEY_CHARS
        or any(part in ("", ".", "..") or not _KEY_PART.fullmatch(part) for part in parts)
    ):
        raise InvalidInput(f"invalid artifact key {quoted(key)}: expected a relative path of plain names")
    return key


@dataclass
class SetAside:
    """What :meth:`ArtifactStore.move_aside` did: ``(key, aside)`` pairs that
    :meth:`ArtifactStore.restore` puts back or :meth:`ArtifactStore.purge` removes."""

    entries: list[tuple[str, str | None]] = field(default_factory=list)


class ArtifactStore(ABC):
    """Files by key: written whole, read as local files, deleted in two steps."""

    setting: str
    """The setting that names this store (quoted in storage errors instead of any path)."""

    @abstractmethod
    def describe(self) -> str:
        """Where the store is, for logs (a directory or ``s3://bucket/prefix``; no credentials)."""

    @abstractmethod
    def check(self) -> None:
        """Fail at start-up, with a message naming the setting, when the store cannot be used."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether a file or a directory (any key below ``key/``) is stored under ``key``."""

    @abstractmethod
    def local_file(self, key: str) -> Path:
        """A local, readable copy of the file ``key`` (the file itself for a directory store);
        ``FileNotFoundError`` when there is none."""

    @abstractmethod
    def local_dir(self, key: str) -> Path:
        """A local, readable copy of the directory ``key`` (a model); ``FileNotFoundError`` when
        nothing is stored under it."""

    @abstractmethod
    def writing_file(self, key: str) -> AbstractContextManager[Path]:
        """A temporary file path to write; published under ``key`` when the block ends without
        an error (replacing what was there), discarded otherwise."""

    @abstractmethod
    def writing_dir(self, key: str) -> AbstractContextManager[Path]:
        """A temporary directory path (not yet created) to write; published under ``key`` when
        the block ends without an error (replacing what was there), discarded otherwise."""

    @abstractmethod
    def put_files(self, files: Sequence[tuple[str, BinaryIO]]) -> None:
        """Store every ``(key, content)`` or none: all are written under temporary names first
        and published only once each was written whole."""

    @abstractmethod
    def check_writable(self, key: str, doing: str) -> None:
        """Write and remove a probe under ``key``, so work that could not save its result is
        refused before it starts (a storage error naming the setting)."""

    @abstractmethod
    def move_aside(self, keys: Sequence[str], doing: str) -> SetAside:
        """The first step of a delete: make ``keys`` (files or directories) ready to go so that
        :meth:`restore` can still undo it; on failure nothing has changed."""

    @abstractmethod
    def restore(self, aside: SetAside) -> None:
        """Undo :meth:`move_aside` (a later step of the delete failed)."""

    @abstractmethod
    def purge(self, aside: SetAside) -> None:
        """Remove what :meth:`move_aside` set aside; what cannot be removed now is logged."""

    @abstractmethod
    def remove(self, keys: Sequence[str]) -> None:
        """Delete files or directories at once (rolling back a write that was not recorded);
        missing keys are ignored and failures logged."""

    @abstractmethod
    def sweep(self, older_than_s: float | None = None) -> int:
        """Remove partial writes and half-done deletes left by a crash (only those older than
        ``older_than_s`` seconds when given, so work in progress on other hosts is kept);
        returns how many."""
