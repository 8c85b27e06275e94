"""Write the synthetic plant tables of the README: ``examples/sample_sensors.csv`` (the library
and command-line examples) and ``examples/plant_train.csv`` with ``examples/plant_eval.csv`` (the
service walk-through).

Readings from three machines ("설비": 1호기, 2호기, 3호기) making two products, with five numeric
sensors that depend on the machine, the product and each other.

- ``sample_sensors.csv``: 2,000 readings with a handful of injected anomalies of different kinds.
- ``plant_train.csv``: 2,000 readings of days the operators signed off as normal, with the time of
  each reading (a column that is no model input).
- ``plant_eval.csv``: the next 1,000 readings with a ``label`` column from the maintenance log
  ("normal" or "anomaly"). Its 50 anomalies are relational faults: every value lies inside the
  range the sensor shows on normal days, only the combination is wrong (a machine running another
  machine's temperature, a pressure that does not match the temperature, a current that does not
  match the speed, a speed of the other product, a product the machine never makes). A limit
  alarm per sensor misses them; a model of how the columns go together catches them.

Deterministic: the same files on every run.

    python examples/make_sample.py          # rewrites the CSVs next to this script
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240601
ROWS = 2000
OUT = Path(__file__).with_name("sample_sensors.csv")
PLANT_SEED = 20261207
PLANT_TRAIN = Path(__file__).with_name("plant_train.csv")
PLANT_EVAL = Path(__file__).with_name("plant_eval.csv")
TRAIN_ROWS, EVAL_ROWS, FAULTS_PER_KIND = 2000, 1000, 10
START = np.datetime64("2026-11-02T06:00:00")
STEP_S = 30

MACHINES = {"1호기": 180.0, "2호기": 185.0, "3호기": 190.0}
"""Machine -> its usual process temperature (°C)."""
PRODUCTS = {"A-100": 1200.0, "B-200": 1500.0}
"""Product -> its line speed (rpm)."""
PRODUCT_SHARE = {"1호기": 1.0, "2호기": 0.5, "3호기": 0.0}
"""Machine -> share of product A-100 (1호기 makes only A-100, 3호기 only B-200)."""


def normal_readings(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Readings of a plant running as it should."""
    machine = rng.choice(list(MACHINES), size=n)
    product = np.where(rng.random(n) < np.vectorize(PRODUCT_SHARE.get)(machine), "A-100", "B-200")
    speed = np.vectorize(PRODUCTS.get)(product) + rng.normal(0, 15, n)
    temperature = np.vectorize(MACHINES.get)(machine) + 0.004 * (speed - 1200) + rng.normal(0, 1.5, n)
    pressure = 2.0 + 0.03 * (temperature - 180) + rng.normal(0, 0.03, n)
    current = 10.0 + 0.01 * speed + rng.normal(0, 0.2, n)
    vibration = 1.0 + 0.0008 * speed + np.abs(rng.normal(0, 0.1, n))
    return pd.DataFrame(
        {
            "설비": machine,
            "product": product,
            "temperature": temperature.round(2),
            "pressure": pressure.round(3),
            "speed": speed.round(1),
            "current": current.round(2),
            "vibration": vibration.round(3),
        }
    )


def inject_anomalies(frame: pd.DataFrame, rng: np.random.Generator) -> dict[int, str]:
    """Change a few rows in place; returns row index -> what is wrong with it."""
    rows = sorted(rng.choice(np.arange(100, len(frame) - 100), size=8, replace=False).tolist())
    what: dict[int, str] = {}
    at = frame.columns.get_loc
    frame.iloc[rows[0], at("temperature")] += 35.0
    what[rows[0]] = "overheating: temperature 35 °C above normal"
    frame.iloc[rows[1], at("pressure")] = 0.8
    what[rows[1]] = "pressure drop with a normal temperature"
    frame.iloc[rows[2], at("vibration")] = 6.5
    what[rows[2]] = "vibration about five times normal"
    frame.iloc[rows[3], at("current")] *= 1.8
    what[rows[3]] = "current far above what the speed needs"
    frame.iloc[rows[4], at("speed")] = 600.0
    frame.iloc[rows[4], at("current")] = 16.0
    what[rows[4]] = "half speed with full-speed current"
    frame.iloc[rows[5], at("temperature")] -= 30.0
    frame.iloc[rows[5], at("pressure")] -= 0.9
    what[rows[5]] = "cold machine: temperature and pressure far below normal"
    frame.iloc[rows[6], at("vibration")] = 4.0
    frame.iloc[rows[6], at("temperature")] += 15.0
    what[rows[6]] = "hot and shaking"
    frame.iloc[rows[7], at("speed")] = 2100.0
    frame.iloc[rows[7], at("current")] = 31.0
    frame.iloc[rows[7], at("vibration")] = 2.7
    what[rows[7]] = "overspeed"
    return what


def relational_faults(frame: pd.DataFrame, rows: np.ndarray) -> None:
    """Break one relation between columns on each of ``rows`` (in place, ``FAULTS_PER_KIND`` rows
    per kind), keeping every value inside the range the sensor has on normal days."""
    kinds = np.array_split(rows, 5)
    at = frame.columns.get_loc
    for row in kinds[0]:  # the machine runs 8 °C hotter than it does; the pressure follows
        frame.iloc[row, at("temperature")] += 8.0
        frame.iloc[row, at("pressure")] += 0.24
    for row in kinds[1]:  # the pressure belongs to another temperature
        frame.iloc[row, at("pressure")] += 0.18 if frame.iloc[row, at("pressure")] < 2.2 else -0.18
    for row in kinds[2]:  # the current belongs to the other product's speed
        frame.iloc[row, at("current")] += 2.0 if frame.iloc[row, at("product")] == "A-100" else -2.0
    for row in kinds[3]:  # the other product's speed, with the current that speed draws
        shift = 300.0 if frame.iloc[row, at("product")] == "A-100" else -300.0
        frame.iloc[row, at("speed")] += shift
        frame.iloc[row, at("current")] += 0.01 * shift
    for row in kinds[4]:  # a product this machine never makes
        frame.iloc[row, at("product")] = "B-200" if frame.iloc[row, at("설비")] == "1호기" else "A-100"
        if frame.iloc[row, at("설비")] == "2호기":
            frame.iloc[row, at("설비")] = "3호기"


def with_time(frame: pd.DataFrame, start: np.datetime64) -> pd.DataFrame:
    """``frame`` after a ``time`` column of readings ``STEP_S`` seconds apart from ``start``."""
    times = start + np.arange(len(frame)) * np.timedelta64(STEP_S, "s")
    return pd.concat([pd.DataFrame({"time": times.astype(str)}), frame], axis=1)


def plant_days() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The walk-through's training readings (normal) and evaluation readings (labelled)."""
    rng = np.random.default_rng(PLANT_SEED)
    train = with_time(normal_readings(rng, TRAIN_ROWS), START)
    evaluation = normal_readings(rng, EVAL_ROWS)
    faulty = np.sort(rng.choice(EVAL_ROWS, size=5 * FAULTS_PER_KIND, replace=False))
    relational_faults(evaluation, rng.permutation(faulty))
    label = np.full(EVAL_ROWS, "normal", dtype=object)
    label[faulty] = "anomaly"
    evaluation["label"] = label
    later = START + np.timedelta64(TRAIN_ROWS * STEP_S, "s")
    return train, with_time(evaluation.round({"pressure": 3, "speed": 1, "current": 2}), later)


def main() -> None:
    rng = np.random.default_rng(SEED)
    frame = normal_readings(rng, ROWS)
    anomalies = inject_anomalies(frame, rng)
    frame.to_csv(OUT, index=False, encoding="utf-8")
    print(f"wrote {OUT} ({len(frame)} rows); injected anomalies (data row, 0-based -> file line):")
    for row, description in anomalies.items():
        print(f"  row {row} (line {row + 2}): {description}")
    train, evaluation = plant_days()
    train.to_csv(PLANT_TRAIN, index=False, encoding="utf-8")
    evaluation.to_csv(PLANT_EVAL, index=False, encoding="utf-8")
    faults = int((evaluation["label"] == "anomaly").sum())
    print(f"wrote {PLANT_TRAIN} ({len(train)} normal rows)")
    print(f"wrote {PLANT_EVAL} ({len(evaluation)} rows, {faults} labelled anomaly)")


if __name__ == "__main__":
    main()
