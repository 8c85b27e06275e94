"""The artifact store as a directory: the embedded default (``data_dir``), or a mount every host
of a cluster shares. Writes go to a temporary name beside their key and are renamed into place
(atomic on one file system); deletes rename first, so a failed delete can be undone.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from aedetect.errors import DATA_DIR_SETTING, storage_error
from aedetect.storage.base import TEMP_PREFIX, ArtifactStore, SetAside, check_key

logger = logging.getLogger(__name__)

COPY_CHUNK = 1024 * 1024

SWEPT = (
    f"models/{TEMP_PREFIX}*",
    f"networks/{TEMP_PREFIX}*",
    f"models/*/*/{TEMP_PREFIX}*",
    f"networks/*/*/{TEMP_PREFIX}*",
    f"networks/*/*/*/{TEMP_PREFIX}*",
    f"datasets/{TEMP_PREFIX}*",
    f"results/{TEMP_PREFIX}*",
)
"""Where partial writes and set-aside deletes can be left (the service's key layout)."""


def _remove_path(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


class LocalStore(ArtifactStore):
    """Keys as paths under ``root``.

    Parameters
    ----------
    root
        The directory (created if missing).
    setting
        The setting that names it, quoted in storage errors instead of the path.
    """

    def __init__(self, root: Path, setting: str = DATA_DIR_SETTING) -> None:
        self.root = root.expanduser().resolve()
        self.setting = setting

    def path(self, key: str) -> Path:
        """Where ``key`` lives on disk."""
        return self.root / check_key(key)

    def describe(self) -> str:
        return str(self.root)

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def local_file(self, key: str) -> Path:
        return self.path(key)

    def local_dir(self, key: str) -> Path:
        return self.path(key)

    def _temp_beside(self, final: Path) -> Path:
        final.parent.mkdir(parents=True, exist_ok=True)
        return final.parent / f"{TEMP_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}"

    @contextmanager
    def writing_file(self, key: str) -> Iterator[Path]:
        final = self.path(key)
        temp = self._temp_beside(final)
        try:
            yield temp
            os.replace(temp, final)
        finally:
            temp.unlink(missing_ok=True)

    @contextmanager
    def writing_dir(self, key: str) -> Iterator[Path]:
        final = self.path(key)
        temp = self._temp_beside(final)
        try:
            yield temp
            if final.exists():
                shutil.rmtree(final)
            os.replace(temp, final)
        finally:
            if temp.exists():
                shutil.rmtree(temp, ignore_errors=True)

    def put_files(self, files: Sequence[tuple[str, BinaryIO]]) -> None:
        temps: list[tuple[str, Path]] = []
        try:
            for key, content in files:
                final = self.path(key)
                final.parent.mkdir(parents=True, exist_ok=True)
                content.seek(0)
                handle, temp = tempfile.mkstemp(dir=final.parent, prefix=TEMP_PREFIX)
                temps.append((temp, final))
                with os.fdopen(handle, "wb") as out:
                    shutil.copyfileobj(content, out, length=COPY_CHUNK)
            for temp, final in temps:
                os.replace(temp, final)
        finally:
            for temp, _ in temps:
                Path(temp).unlink(missing_ok=True)

    def check_writable(self, key: str, doing: str) -> None:
        directory = self.path(key)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            handle, probe = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX)
            os.close(handle)
            os.unlink(probe)
        except OSError as exc:
            error = storage_error(exc, doing, self.setting)
            if error is None:
                raise
            raise error from exc

    def move_aside(self, keys: Sequence[str], doing: str) -> SetAside:
        """Rename each existing file or directory to a temporary name beside it; on failure every
        rename is undone and nothing has changed."""
        aside = SetAside()
        try:
            for key in keys:
                original = self.path(key)
                if original.exists():
                    moved = original.with_name(f"{TEMP_PREFIX}deleted-{original.name}-{uuid.uuid4().hex[:8]}")
                    original.rename(moved)
                    aside.entries.append((key, self._key_of(moved)))
        except OSError as exc:
            self.restore(aside)
            error = storage_error(exc, doing, self.setting)
            if error is None:
                raise
            raise error from exc
        return aside

    def restore(self, aside: SetAside) -> None:
        for key, moved in reversed(aside.entries):
            if moved is not None:
                self.path(moved).rename(self.path(key))

    def purge(self, aside: SetAside) -> None:
        """Remove what was set aside; what cannot be removed now is logged and removed by the next
        :meth:`sweep` (its name marks it as partial)."""
        for _, moved in aside.entries:
            if moved is None:
                continue
            try:
                _remove_path(self.path(moved))
            except OSError as exc:
                logger.warning("could not remove %s yet (removed at the next start): %s", moved, exc)

    def remove(self, keys: Sequence[str]) -> None:
        for key in keys:
            path = self.path(key)
            try:
                if path.exists():
                    _remove_path(path)
            except OSError as exc:
                logger.warning("could not remove %s: %s", key, exc)

    def sweep(self, older_than_s: float | None = None) -> int:
        cutoff = None if older_than_s is None else time.time() - older_than_s
        removed = 0
        for pattern in SWEPT:
            for path in self.root.glob(pattern):
                try:
                    if cutoff is not None and path.lstat().st_mtime > cutoff:
                        continue
                    _remove_path(path)
                    removed += 1
                except OSError as exc:
                    logger.warning("could not remove %s left by an earlier run: %s", path, exc)
        return removed

    def _key_of(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()
