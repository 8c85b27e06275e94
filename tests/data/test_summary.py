"""Tables described chunk by chunk: the same answer as the whole table, distinct counts exact up
to the sketch's size and close beyond it, bounded memory whatever the number of values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aedetect.data.summary import DistinctSketch, summarize


def test_summary_of_chunks_equals_that_of_the_whole_table() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=1000).round(2),
            "kind": rng.choice(["a", "b", "c"], 1000),
            "n": rng.integers(0, 50, 1000),
        }
    )
    frame.loc[[3, 500, 999], "x"] = np.nan
    rows, columns = summarize([frame.iloc[i : i + 97] for i in range(0, 1000, 97)], examples=3)
    assert rows == 1000
    found = {c.name: c.as_dict() for c in columns}
    assert found["x"]["kind"] == "numeric" and found["kind"]["kind"] == "categorical"
    for name in ("x", "kind", "n"):
        assert found[name]["distinct"] == frame[name].nunique()
        assert found[name]["examples"] == list(frame[name].dropna().drop_duplicates().head(3))
    assert found["x"]["missing_share"] == 3 / 1000


def test_distinct_counts_are_exact_below_the_sketch_size() -> None:
    sketch = DistinctSketch(keep=5000)
    for start in range(0, 12_000, 3000):  # 4,000 distinct values, each seen three times
        sketch.update(pd.Series(np.arange(start, start + 3000) % 4000))
    assert sketch.count() == 4000


def test_distinct_counts_beyond_the_sketch_size_are_close_and_bounded() -> None:
    sketch = DistinctSketch(keep=4096)
    for start in range(0, 400_000, 50_000):
        sketch.update(pd.Series([f"id-{i}" for i in range(start, start + 50_000)]))
    assert len(sketch.hashes) == 4096
    assert abs(sketch.count() - 400_000) / 400_000 < 0.05


def test_no_chunks_is_no_rows_and_no_columns() -> None:
    assert summarize([]) == (0, [])
