"""Training data as a stream of frames that can be read more than once.

``fit`` reads its data twice (statistics, then encoding), so every accepted form becomes a
:class:`FrameStream`: an in-memory table, a CSV path (read in chunks by
:func:`~aedetect.data.csv_reader.iter_csv_chunks`), a zero-argument callable returning a fresh
iterator of frames, an iterable of frames that starts over when iterated again (a list), or a
one-shot iterator of frames, which is copied to temporary Parquet files on the first pass and
replayed from them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from aedetect.data.csv_reader import iter_csv_chunks
from aedetect.data.schema import as_frame
from aedetect.errors import InvalidInput

CHUNK_ROWS = 100_000
"""Rows per chunk read from a CSV path."""


class FrameStream:
    """Chunks of one table, readable several times; :meth:`close` removes any spill files."""

    def __init__(self, X: Any, chunk_rows: int = CHUNK_ROWS) -> None:
        self.frame: pd.DataFrame | None = None
        self._factory: Callable[[], Iterator[Any]] | None = None
        self._once: Iterator[Any] | None = None
        self._spill: Path | None = None
        self._spilled = 0
        if hasattr(X, "tocsr"):  # a scipy sparse matrix: refused with the table's message
            self.frame = as_frame(X)
        elif isinstance(X, str | os.PathLike):
            path = Path(X)
            self._factory = lambda: iter_csv_chunks(path, chunk_rows=chunk_rows)
        elif callable(X):
            self._factory = X
        elif _is_frame_iterable(X):
            if iter(X) is X:
                self._once = X
            else:
                self._factory = lambda: iter(X)
        else:
            self.frame = as_frame(X)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        """The chunks, from the start."""
        if self.frame is not None:
            yield self.frame
        elif self._factory is not None:
            for i, chunk in enumerate(self._factory()):
                yield _checked(chunk, i)
        elif self._once is not None:
            yield from self._first_pass(self._once)
        else:
            yield from self._replay()

    def _first_pass(self, chunks: Iterator[Any]) -> Iterator[pd.DataFrame]:
        self._once = None
        self._spill = Path(tempfile.mkdtemp(prefix="aedetect-frames-"))
        for i, chunk in enumerate(chunks):
            frame = _checked(chunk, i)
            try:
                table = pa.Table.from_pandas(frame, preserve_index=False)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise InvalidInput(
                    f"frame {i} of the training data has a column of mixed types ({exc}); give each "
                    "column one type (numbers or text)",
                    field="X",
                ) from None
            pq.write_table(table, self._spill / f"{i:08d}.parquet")
            self._spilled += 1
            yield frame

    def _replay(self) -> Iterator[pd.DataFrame]:
        if self._spill is None:
            return
        for i in range(self._spilled):
            yield pq.read_table(self._spill / f"{i:08d}.parquet").to_pandas()

    def close(self) -> None:
        """Remove the spill files of a one-shot iterator."""
        if self._spill is not None:
            shutil.rmtree(self._spill, ignore_errors=True)
            self._spill = None
            self._spilled = 0


def _is_frame_iterable(X: Any) -> bool:
    """An iterable of frames (not a frame, array, mapping or string, which are tables or rows)."""
    if isinstance(X, pd.DataFrame | str | bytes | dict) or hasattr(X, "__array__") or hasattr(X, "tocsr"):
        return False
    if isinstance(X, list | tuple):
        return bool(X) and all(isinstance(item, pd.DataFrame) for item in X)
    return isinstance(X, Iterable)


def _checked(chunk: Any, index: int) -> pd.DataFrame:
    if not isinstance(chunk, pd.DataFrame):
        raise InvalidInput(
            f"item {index} of the training data is a {type(chunk).__name__}, not a pandas DataFrame; "
            "an iterable of training data must yield DataFrames",
            field="X",
        )
    return chunk
