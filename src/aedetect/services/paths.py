"""Where the service keeps files, and the checks that keep user-supplied ids inside it.

Every id that ends up in a path (network id, node name, file name, run id) is checked against a
strict pattern first; raw user strings are never joined into paths. Layout under ``data_dir``::

    networks/<nn_id>/<version>/<node>/<file>      uploaded CSV files of a data node
    datasets/<dataset_id>.csv                     an uploaded dataset (native API)
    models/<nn_id>/<version>/<run_id>/            a trained model (detector artifact)
    models/<nn_id>/<version>/<run_id>.scores.npy  its training scores (threshold strategies)
    results/<job_id>.csv                          the scored CSV of a scoring job
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import unicodedata
import uuid
from pathlib import Path

from aedetect.errors import InvalidInput, quoted, storage_error

logger = logging.getLogger(__name__)

NN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,49}")
"""Network ids: letters, digits, ``_`` and ``-``, at most 50 characters, starting alphanumeric."""

NODE_NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,49}")
"""Workflow node names such as ``datasrc`` or ``feed_train``."""

FILE_NAME_PATTERN = re.compile(r"[\w\-+@#(),\[\] ]+(\.[\w\-+@#(),\[\] ]+)*")
"""Uploaded file names: word characters (any script) and a few punctuation marks, dots only
between name parts, so no path separators, no ``..`` and no hidden files."""

MAX_FILE_NAME_CHARS = 150

RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,49}_[0-9]{1,9}_[0-9]{1,9}")
"""Run ids ``<nn_id>_<version>_<seq>``."""

DATASET_ID_PATTERN = re.compile(r"ds_[0-9a-f]{12}")
"""Dataset ids as the service makes them: ``ds_`` and 12 hex digits."""

JOB_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
"""Job ids: 32 hex digits."""

MAX_VERSION = 2**31 - 1
"""Largest version number (the registry stores 32-bit integers)."""

TEMP_PREFIX = ".tmp-"
"""Prefix of what is being written (a model directory, an uploaded file) before it is renamed
into place, or of what is being deleted (renamed out of place first); anything left with it after
a crash is partial and removed at start-up."""


def check_nn_id(nn_id: str) -> str:
    """``nn_id`` if it is a valid network id, else ``InvalidInput`` naming the rule."""
    if not NN_ID_PATTERN.fullmatch(nn_id):
        raise InvalidInput(
            f"invalid network id {quoted(nn_id)}: use 1-50 letters, digits, '_' or '-', starting with a "
            "letter or digit",
            field="nn_id",
        )
    return nn_id


def check_version(ver: str | int) -> int:
    """A version number from a path or body value (``"1"`` or ``1``), else ``InvalidInput``."""
    text = str(ver).strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_VERSION:
        raise InvalidInput(
            f"invalid version {quoted(ver)}: expected an integer from 1 to {MAX_VERSION}", field="ver"
        )
    return int(text)


def check_node_name(node: str) -> str:
    """``node`` if it looks like a workflow node name, else ``InvalidInput``."""
    if not NODE_NAME_PATTERN.fullmatch(node):
        raise InvalidInput(
            f"invalid node name {quoted(node)}: node names are lower-case letters, digits and '_'",
            field="node",
        )
    return node


def check_file_name(name: str) -> str:
    """A safe stored name for an uploaded file, or ``InvalidInput`` when ``name`` is not one.

    Names are Unicode-normalised (NFC) so the same Korean name from different systems is one file.
    """
    normal = unicodedata.normalize("NFC", name.strip())
    if not normal or len(normal) > MAX_FILE_NAME_CHARS or not FILE_NAME_PATTERN.fullmatch(normal):
        raise InvalidInput(
            f"invalid file name {quoted(name)}: use a plain file name (letters, digits, spaces, '-', '_', "
            f"'.', at most {MAX_FILE_NAME_CHARS} characters) without directories",
            field="file",
        )
    return normal


def check_run_id(run_id: str) -> str:
    """``run_id`` if it has the ``<nn_id>_<version>_<seq>`` form, else ``InvalidInput``."""
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise InvalidInput(
            f"invalid model id {quoted(run_id)}: expected '<nn_id>_<version>_<n>'", field="nn_batch_ver_id"
        )
    return run_id


def check_dataset_id(dataset_id: str) -> str:
    """``dataset_id`` if it has the form the service gives dataset ids, else ``InvalidInput``."""
    if not isinstance(dataset_id, str) or not DATASET_ID_PATTERN.fullmatch(dataset_id):
        raise InvalidInput(
            f"invalid dataset id {quoted(dataset_id)}: dataset ids look like 'ds_0123456789ab' "
            "(GET /api/v2/datasets lists them)",
            field="dataset",
        )
    return dataset_id


def check_job_id(job_id: str) -> str:
    """``job_id`` if it is 32 hex digits, else ``InvalidInput``."""
    if not JOB_ID_PATTERN.fullmatch(job_id):
        raise InvalidInput(f"invalid job id {quoted(job_id)}: expected 32 hex digits", field="job_id")
    return job_id


class DataPaths:
    """The directory layout under ``data_dir``; every method validates its ids first."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir.expanduser().resolve()

    def relative(self, path: Path) -> str:
        """``path`` relative to the data directory, as shown to clients (no machine paths)."""
        return path.relative_to(self.root).as_posix()

    def network_data_dir(self, nn_id: str) -> Path:
        return self.root / "networks" / check_nn_id(nn_id)

    def network_models_dir(self, nn_id: str) -> Path:
        return self.root / "models" / check_nn_id(nn_id)

    def node_dir(self, nn_id: str, version: int, node: str) -> Path:
        """Directory holding the uploaded files of one data node."""
        return self.network_data_dir(nn_id) / str(check_version(version)) / check_node_name(node)

    def node_file(self, nn_id: str, version: int, node: str, file_name: str) -> Path:
        return self.node_dir(nn_id, version, node) / check_file_name(file_name)

    def version_models_dir(self, nn_id: str, version: int) -> Path:
        return self.network_models_dir(nn_id) / str(check_version(version))

    def model_dir(self, nn_id: str, version: int, run_id: str) -> Path:
        """Final directory of the model a run produces."""
        return self.version_models_dir(nn_id, version) / check_run_id(run_id)

    def training_scores(self, nn_id: str, version: int, run_id: str) -> Path:
        """File of a run's training scores (a float64 ``.npy``, read without pickle)."""
        return self.version_models_dir(nn_id, version) / f"{check_run_id(run_id)}.scores.npy"

    def dataset_file(self, dataset_id: str) -> Path:
        """The stored CSV file of a dataset."""
        return self.root / "datasets" / f"{check_dataset_id(dataset_id)}.csv"

    def job_result(self, job_id: str) -> Path:
        """The CSV a scoring job writes."""
        return self.root / "results" / f"{check_job_id(job_id)}.csv"

    def temp_beside(self, final: Path) -> Path:
        """A temporary name in ``final``'s directory (created if missing), renamed into place when
        complete; start-up removes what a crash leaves."""
        final.parent.mkdir(parents=True, exist_ok=True)
        return final.parent / f"{TEMP_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}"

    def resolve_model(self, relative_path: str) -> Path:
        """The absolute directory of a stored model path, refusing anything outside ``models/``."""
        path = (self.root / relative_path).resolve()
        if not path.is_relative_to(self.root / "models"):
            raise InvalidInput(f"model path {quoted(relative_path)} is outside the model store")
        return path

    def check_writable(self, directory: Path, doing: str) -> None:
        """Create ``directory`` if needed and write and remove a probe file in it, so a run that
        could not save its result is refused before it starts (503/507 naming the setting)."""
        try:
            directory.mkdir(parents=True, exist_ok=True)
            handle, probe = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX)
            os.close(handle)
            os.unlink(probe)
        except OSError as exc:
            error = storage_error(exc, doing)
            if error is None:
                raise
            raise error from exc

    def move_aside(self, directories: list[Path], doing: str) -> list[tuple[Path, Path]]:
        """Rename each existing directory (or file) to a temporary name beside it, the first step
        of a delete: on failure every rename is undone and nothing has changed. Returns the
        ``(original, moved)`` pairs for :meth:`restore` or :meth:`purge`."""
        moved: list[tuple[Path, Path]] = []
        try:
            for directory in directories:
                if directory.exists():
                    aside = directory.with_name(
                        f"{TEMP_PREFIX}deleted-{directory.name}-{uuid.uuid4().hex[:8]}"
                    )
                    directory.rename(aside)
                    moved.append((directory, aside))
        except OSError as exc:
            self.restore(moved)
            error = storage_error(exc, doing)
            if error is None:
                raise
            raise error from exc
        return moved

    @staticmethod
    def restore(moved: list[tuple[Path, Path]]) -> None:
        """Undo :meth:`move_aside` (a later step of the delete failed)."""
        for original, aside in reversed(moved):
            aside.rename(original)

    @staticmethod
    def purge(moved: list[tuple[Path, Path]]) -> None:
        """Remove what :meth:`move_aside` set aside; what cannot be removed now is logged and
        removed at the next start (its name marks it as partial)."""
        for _, aside in moved:
            try:
                if aside.is_dir():
                    shutil.rmtree(aside)
                else:
                    aside.unlink()
            except OSError as exc:
                logger.warning("could not remove %s yet (removed at the next start): %s", aside, exc)

    def network_dirs(self, nn_id: str) -> list[Path]:
        """The directories of a network's uploaded files and models."""
        return [self.network_data_dir(nn_id), self.network_models_dir(nn_id)]

    def remove_partial_writes(self) -> int:
        """Delete half-written models and uploads, and deletes left half-done, by a crash;
        returns how many. What cannot be removed is logged and left for the next start."""
        stale = [
            *self.root.glob(f"models/{TEMP_PREFIX}*"),
            *self.root.glob(f"networks/{TEMP_PREFIX}*"),
            *self.root.glob(f"models/*/*/{TEMP_PREFIX}*"),
            *self.root.glob(f"networks/*/*/{TEMP_PREFIX}*"),
            *self.root.glob(f"networks/*/*/*/{TEMP_PREFIX}*"),
            *self.root.glob(f"datasets/{TEMP_PREFIX}*"),
            *self.root.glob(f"results/{TEMP_PREFIX}*"),
        ]
        removed = 0
        for path in stale:
            try:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed += 1
            except OSError as exc:
                logger.warning("could not remove %s left by an earlier run: %s", path, exc)
        return removed
