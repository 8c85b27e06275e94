"""Where the service keeps files in the artifact store (``storage/``), and the checks that keep
user-supplied ids inside it.

Every id that ends up in a key (network id, node name, file name, run id) is checked against a
strict pattern first; raw user strings are never joined into keys. The key layout (for the
directory store, the layout under ``data_dir``)::

    networks/<nn_id>/<version>/<node>/<file>      uploaded CSV files of a data node
    datasets/<dataset_id>.csv                     an uploaded dataset (native API)
    models/<nn_id>/<version>/<run_id>/            a trained model (detector artifact)
    models/<nn_id>/<version>/<run_id>.scores.npy  its training scores (threshold strategies)
    results/<job_id>.csv                          the scored CSV of a scoring job
"""

from __future__ import annotations

import re
import unicodedata

from aedetect.errors import Hint, InvalidInput, quoted

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

CURSOR_PATTERN = re.compile(r"[0-9]{1,19}")
"""Page cursors that are row ids."""

MAX_VERSION = 2**31 - 1
"""Largest version number (the registry stores 32-bit integers)."""

VERSION_PATTERN = re.compile(
    r"0*(?:[1-9][0-9]{0,8}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}|2147[0-3][0-9]{5}"
    r"|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}|21474836[0-3][0-9]|214748364[0-7])"
)
"""Version numbers as text: 1 to :data:`MAX_VERSION` (leading zeros allowed), what
:func:`check_version` accepts in a path."""


def schema_pattern(pattern: re.Pattern[str]) -> dict[str, str]:
    """The JSON Schema keyword of ``pattern`` (anchored: JSON Schema patterns search, the checks
    here match whole values)."""
    return {"pattern": f"^{pattern.pattern}$"}


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
            "(the list of datasets gives them)",
            field="dataset",
            hint=Hint("list_datasets"),
        )
    return dataset_id


def check_job_id(job_id: str) -> str:
    """``job_id`` if it is 32 hex digits, else ``InvalidInput``."""
    if not JOB_ID_PATTERN.fullmatch(job_id):
        raise InvalidInput(f"invalid job id {quoted(job_id)}: expected 32 hex digits", field="job_id")
    return job_id


class DataPaths:
    """The key layout of the artifact store; every method validates its ids first, so a key is
    built only from checked ids (the store checks the key's shape again)."""

    def network_data_dir(self, nn_id: str) -> str:
        return f"networks/{check_nn_id(nn_id)}"

    def network_models_dir(self, nn_id: str) -> str:
        return f"models/{check_nn_id(nn_id)}"

    def node_dir(self, nn_id: str, version: int, node: str) -> str:
        """Directory holding the uploaded files of one data node."""
        return f"{self.network_data_dir(nn_id)}/{check_version(version)}/{check_node_name(node)}"

    def node_file(self, nn_id: str, version: int, node: str, file_name: str) -> str:
        return f"{self.node_dir(nn_id, version, node)}/{check_file_name(file_name)}"

    def version_models_dir(self, nn_id: str, version: int) -> str:
        return f"{self.network_models_dir(nn_id)}/{check_version(version)}"

    def model_dir(self, nn_id: str, version: int, run_id: str) -> str:
        """Final directory of the model a run produces."""
        return f"{self.version_models_dir(nn_id, version)}/{check_run_id(run_id)}"

    def training_scores(self, nn_id: str, version: int, run_id: str) -> str:
        """File of a run's training scores (a float64 ``.npy``, read without pickle)."""
        return f"{self.version_models_dir(nn_id, version)}/{check_run_id(run_id)}.scores.npy"

    def dataset_file(self, dataset_id: str) -> str:
        """The stored CSV file of a dataset."""
        return f"datasets/{check_dataset_id(dataset_id)}.csv"

    def job_result(self, job_id: str) -> str:
        """The CSV a scoring job writes."""
        return f"results/{check_job_id(job_id)}.csv"

    @staticmethod
    def model_key(recorded: str) -> str:
        """The key of a model path recorded in the registry, refusing anything outside ``models/``."""
        parts = recorded.split("/")
        if len(parts) < 2 or parts[0] != "models" or any(p in ("", ".", "..") for p in parts):
            raise InvalidInput(f"model path {quoted(recorded)} is outside the model store")
        return recorded

    def network_dirs(self, nn_id: str) -> list[str]:
        """The directories of a network's uploaded files and models."""
        return [self.network_data_dir(nn_id), self.network_models_dir(nn_id)]
