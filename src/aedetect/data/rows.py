"""Encoded training rows, in memory or spilled to temporary files, read back in shuffled blocks.

Training visits every row once per epoch in a random order. For a table that fits in memory that
is one permutation of the arrays; for a larger one the rows are cut into blocks on disk, and each
epoch reads a few randomly chosen blocks at a time, shuffles their rows together and trains on
them, so memory holds a few blocks and never the table.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from aedetect.data.encoding import EncodedTable

BLOCK_ROWS = 65_536
"""Rows per block of a spilled table (about 25 MiB for 50 mixed columns)."""

BLOCKS_PER_SHUFFLE = 4
"""Blocks read and shuffled together: rows of different blocks meet in one batch."""

_ARRAYS = (("numeric", np.float32), ("missing", np.float32), ("codes", np.int64))


class EncodedRows:
    """Rows of an :class:`EncodedTable`, appended chunk by chunk, with a validation mask.

    ``in_memory=False`` writes the arrays to files in a temporary directory (removed by
    :meth:`close`); reads copy the requested rows into memory, so the files never count as this
    process's resident memory the way a memory map would.
    """

    def __init__(self, n_numeric: int, n_categorical: int, *, in_memory: bool) -> None:
        self.widths = {"numeric": n_numeric, "missing": n_numeric, "codes": n_categorical}
        self.in_memory = in_memory
        self.rows = 0
        self._chunks: list[EncodedTable] = []
        self._table: EncodedTable | None = None
        self._directory: Path | None = None
        self._validation: list[np.ndarray] = []
        self.validation_mask = np.zeros(0, dtype=bool)
        if not in_memory:
            self._directory = Path(tempfile.mkdtemp(prefix="aedetect-rows-"))

    def append(self, table: EncodedTable, validation: np.ndarray) -> None:
        """Add rows in order; ``validation`` marks the held-out ones (bool per row)."""
        self._validation.append(np.asarray(validation, dtype=bool))
        self.rows += len(table)
        if self.in_memory:
            self._chunks.append(table)
            return
        assert self._directory is not None
        for name, dtype in _ARRAYS:
            with (self._directory / name).open("ab") as sink:
                np.ascontiguousarray(getattr(table, name), dtype=dtype).tofile(sink)

    def finish(self) -> None:
        """End appending: joins in-memory chunks and the validation mask."""
        self.validation_mask = np.concatenate(self._validation) if self._validation else np.zeros(0, bool)
        self._validation = []
        if self.in_memory:
            self._table = _concat(self._chunks, self.widths)
            self._chunks = []

    def read(self, start: int, stop: int) -> EncodedTable:
        """Rows ``start`` to ``stop`` (exclusive), in order."""
        if self._table is not None:
            return self._table.take(slice(start, stop))
        assert self._directory is not None
        arrays = {}
        count = max(0, min(stop, self.rows) - start)
        for name, dtype in _ARRAYS:
            width = self.widths[name]
            item = np.dtype(dtype).itemsize
            with (self._directory / name).open("rb") as source:
                source.seek(start * width * item)
                data = np.fromfile(source, dtype=dtype, count=count * width)
            arrays[name] = data.reshape(count, width)
        return EncodedTable(arrays["numeric"], arrays["missing"], arrays["codes"])

    def in_order(self, chunk_rows: int) -> Iterator[EncodedTable]:
        """Every row in order, ``chunk_rows`` at a time (for scoring the training rows)."""
        for start in range(0, self.rows, chunk_rows):
            yield self.read(start, start + chunk_rows)

    def validation(self) -> EncodedTable:
        """The held-out rows, in order (a bounded number: the caller caps them)."""
        index = np.flatnonzero(self.validation_mask)
        if self._table is not None:
            return self._table.take(index)
        parts = []
        for start in range(0, self.rows, BLOCK_ROWS):
            local = index[(index >= start) & (index < start + BLOCK_ROWS)] - start
            if len(local):
                parts.append(self.read(start, start + BLOCK_ROWS).take(local))
        return _concat(parts, self.widths)

    @property
    def n_train(self) -> int:
        """Rows used for training (not held out)."""
        return int(self.rows - self.validation_mask.sum())

    def shuffled(self, rng: np.random.Generator) -> Iterator[EncodedTable]:
        """One epoch of training rows in random order, as a few groups of shuffled rows."""
        if self._table is not None:
            train = np.flatnonzero(~self.validation_mask)
            yield self._table.take(train[rng.permutation(len(train))])
            return
        starts = np.arange(0, self.rows, BLOCK_ROWS)
        order = starts[rng.permutation(len(starts))]
        for group in range(0, len(order), BLOCKS_PER_SHUFFLE):
            parts = []
            for start in order[group : group + BLOCKS_PER_SHUFFLE]:
                block = self.read(int(start), int(start) + BLOCK_ROWS)
                keep = ~self.validation_mask[start : start + len(block)]
                parts.append(block.take(np.flatnonzero(keep)))
            rows = _concat(parts, self.widths)
            yield rows.take(rng.permutation(len(rows)))

    def close(self) -> None:
        """Remove the temporary files (safe to call more than once)."""
        self._table = None
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None


def _concat(parts: list[EncodedTable], widths: dict[str, int]) -> EncodedTable:
    if not parts:
        return EncodedTable(
            np.zeros((0, widths["numeric"]), np.float32),
            np.zeros((0, widths["missing"]), np.float32),
            np.zeros((0, widths["codes"]), np.int64),
        )
    if len(parts) == 1:
        return parts[0]
    return EncodedTable(
        np.concatenate([p.numeric for p in parts]),
        np.concatenate([p.missing for p in parts]),
        np.concatenate([p.codes for p in parts]),
    )
