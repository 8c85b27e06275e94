"""Reading a detector's data: the two passes over the training data, and chunks to score.

Training data may be larger than memory, so ``fit`` reads it twice: once for the encoders'
statistics (bounded-memory sketches), once to encode every row, in memory when small enough,
else into temporary files that training reads in shuffled blocks (:class:`EncodedRows`).
Data to score is encoded in chunks of bounded size, a few records directly without pandas.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

from aedetect.data.encoding import NUMERIC_TRANSFORM, EncodedTable, TableStatistics, TabularEncoder
from aedetect.data.rows import EncodedRows
from aedetect.data.schema import (
    as_frame,
    as_records,
    check_record_columns,
    infer_column_specs,
    select_columns,
)
from aedetect.data.sources import FrameStream
from aedetect.detectors.training import StopCheck
from aedetect.errors import InvalidInput, NotFitted

SCORE_CHUNK_ROWS = 32768
"""Rows encoded and scored at a time by one network, so memory stays bounded for any input size;
an ensemble scores ``SCORE_CHUNK_ROWS // n_estimators`` at a time (its per-row terms are that
many times larger)."""

MAX_VALIDATION_ROWS = 100_000
"""Most rows held out for early stopping, whatever the data's size (they are kept in memory)."""

IN_MEMORY_BYTES = 256 * 1024 * 1024
"""Encoded training rows up to this size stay in memory; more go to temporary files."""

RECORDS_FAST_PATH_ROWS = 256
"""Up to this many rows given as mappings are encoded directly, without building a DataFrame
(a single-row request spends most of its time in pandas otherwise)."""


def poll(should_stop: StopCheck | None) -> None:
    """Between chunks of the passes over the data, before any learning: a stop request there
    leaves nothing to keep, so it aborts ``fit``."""
    if should_stop is not None and should_stop():
        raise NotFitted("training was stopped while reading the data: the detector is not fitted")


def read_statistics(
    stream: FrameStream, params: dict[str, Any], should_stop: StopCheck | None
) -> tuple[TabularEncoder, TableStatistics, int]:
    """First pass: the columns' kinds (from the first chunk), the fitted encoder, its statistics,
    and the number of columns of the data."""
    encoder: TabularEncoder | None = None
    statistics: TableStatistics | None = None
    n_features = 0
    for chunk in stream:
        poll(should_stop)
        if encoder is None:
            n_features = chunk.shape[1]
            specs = infer_column_specs(chunk, params["columns"], params["categorical"])
            encoder = TabularEncoder(specs, params["vocab_size"], NUMERIC_TRANSFORM)
            statistics = TableStatistics(encoder)
        assert statistics is not None
        statistics.update(select_columns(chunk, [s.name for s in encoder.specs]))
    rows = statistics.rows if statistics is not None else 0
    if encoder is None or statistics is None or rows < 2:
        raise InvalidInput(f"training needs at least 2 rows, got {rows} sample(s)", field="X")
    return encoder.fit_statistics(statistics), statistics, n_features


def encode_rows(
    stream: FrameStream, encoder: TabularEncoder, validation: Any, should_stop: StopCheck | None
) -> EncodedRows:
    """Second pass: every row encoded and marked as held out where ``validation`` says."""
    row_bytes = 8 * len(encoder.numeric_names) + 8 * len(encoder.categorical_names)
    rows = EncodedRows(
        len(encoder.numeric_names),
        len(encoder.categorical_names),
        in_memory=len(validation) * row_bytes <= IN_MEMORY_BYTES,
    )
    try:
        names = [s.name for s in encoder.specs]
        for chunk in stream:
            frame = select_columns(chunk, names)
            for start in range(0, len(frame), SCORE_CHUNK_ROWS):
                poll(should_stop)
                part = frame.iloc[start : start + SCORE_CHUNK_ROWS]
                done = rows.rows
                if done + len(part) > len(validation):
                    break
                rows.append(encoder.transform(part), validation[done : done + len(part)])
        if rows.rows != len(validation):
            raise InvalidInput(
                f"the training data gave {len(validation)} rows on its first reading and "
                f"{rows.rows} on its second; an iterable or callable must give the same rows "
                "each time it is read",
                field="X",
            )
        rows.finish()
    except BaseException:
        rows.close()
        raise
    return rows


def encoded_chunks(
    encoder: TabularEncoder, X: Any, n_features_in: int, step: int, owner: str = "AutoEncoderDetector"
) -> Iterator[EncodedTable]:
    """``X`` (a table, records or an array of the training width) encoded ``step`` rows at a time."""
    columns: Sequence[str] = [s.name for s in encoder.specs]
    records = as_records(X)
    if records is not None and len(records) <= RECORDS_FAST_PATH_ROWS:
        check_record_columns(records, list(columns))
        yield encoder.transform_records(records)
        return
    frame = as_frame(X)
    if records is None and not isinstance(X, pd.DataFrame) and frame.shape[1] != n_features_in:
        raise InvalidInput(
            f"X has {frame.shape[1]} features, but {owner} is expecting "
            f"{n_features_in} features as input (the columns {', '.join(columns)})",
            field="X",
        )
    frame = select_columns(frame, list(columns))
    for start in range(0, len(frame), step):
        yield encoder.transform(frame.iloc[start : start + step])
