"""Turn user input (DataFrame, ndarray, records) into a frame of the model's columns, and decide
each column's kind. Shared by the detectors and the service so both validate the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from aedetect.domain import ColumnKind, ColumnSpec
from aedetect.errors import InvalidInput, listed


def as_frame(X: Any) -> pd.DataFrame:
    """A DataFrame view of ``X``: a DataFrame as is, a 2-D array with columns ``x0..xN``, a mapping
    (one row) or a sequence of mappings (records)."""
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, Mapping):
        return pd.DataFrame([dict(X)])
    if isinstance(X, Sequence) and not isinstance(X, str) and X and isinstance(X[0], Mapping):
        return pd.DataFrame.from_records(list(X))
    array = np.asarray(X)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise InvalidInput(f"expected a table (2-D data), got an array of shape {array.shape}", field="X")
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])


def infer_column_specs(
    frame: pd.DataFrame, columns: Sequence[str] | None, categorical: Sequence[str] | None
) -> list[ColumnSpec]:
    """The ordered column specs for training: ``columns`` (default all) with their kinds.

    Strings, booleans and pandas categoricals are categorical; numbers are numeric unless listed
    in ``categorical``.
    """
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InvalidInput(f"duplicate column names in the data: {listed(dupes)}", field="columns")
    chosen = list(names) if not columns else [str(c) for c in columns]
    if len(set(chosen)) != len(chosen):
        raise InvalidInput("columns lists a column more than once", field="columns")
    missing = [c for c in chosen if c not in names]
    if missing:
        raise InvalidInput(
            f"columns not in the data: {listed(missing)} "
            f"(the data has {len(names)} columns: {listed(names)})",
            field="columns",
        )
    declared = {str(c) for c in categorical or []}
    unknown = sorted(declared - set(chosen))
    if unknown:
        raise InvalidInput(
            f"categorical names columns that are not used: {listed(unknown)}", field="categorical"
        )
    frame = frame.rename(columns=str)
    specs = []
    for name in chosen:
        is_numeric = pd.api.types.is_numeric_dtype(frame[name]) and not pd.api.types.is_bool_dtype(
            frame[name]
        )
        kind = ColumnKind.NUMERIC if is_numeric and name not in declared else ColumnKind.CATEGORICAL
        specs.append(ColumnSpec(name=name, kind=kind))
    if not specs:
        raise InvalidInput("no columns to model: the data has no columns", field="columns")
    return specs


def as_records(X: Any) -> list[Mapping[str, Any]] | None:
    """``X`` as a list of row mappings when it is one mapping or a sequence of them, else None."""
    if isinstance(X, Mapping):
        return [X]
    if isinstance(X, Sequence) and not isinstance(X, str) and X and all(isinstance(r, Mapping) for r in X):
        return list(X)
    return None


def check_record_columns(records: Sequence[Mapping[str, Any]], names: Sequence[str]) -> None:
    """Every record holds every model column; otherwise the same error as :func:`select_columns`."""
    missing = sorted({c for record in records for c in names if c not in record}, key=list(names).index)
    if missing:
        raise InvalidInput(
            f"input lacks the model column(s): {listed(missing)}; the model needs {len(names)} columns: "
            f"{listed(names)}",
            field=missing[0],
        )


def select_columns(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """The model's columns of ``frame`` in model order; a missing one is an error naming it."""
    frame = frame.rename(columns=str)
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"input lacks the model column(s): {listed(missing)}; the model needs {len(names)} columns: "
            f"{listed(names)}",
            field=missing[0],
        )
    return frame.loc[:, list(names)]
