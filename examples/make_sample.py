"""Write ``examples/sample_sensors.csv``: a synthetic plant table for the README quickstart.

2,000 readings from three machines ("설비": 1호기, 2호기, 3호기) making two products, with five
numeric sensors that depend on the machine, the product and each other, and a handful of injected
anomalies of different kinds. Deterministic: the same file on every run.

    python examples/make_sample.py          # rewrites the CSV next to this script
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240601
ROWS = 2000
OUT = Path(__file__).with_name("sample_sensors.csv")

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


def main() -> None:
    rng = np.random.default_rng(SEED)
    frame = normal_readings(rng, ROWS)
    anomalies = inject_anomalies(frame, rng)
    frame.to_csv(OUT, index=False, encoding="utf-8")
    print(f"wrote {OUT} ({len(frame)} rows); injected anomalies (data row, 0-based -> file line):")
    for row, description in anomalies.items():
        print(f"  row {row} (line {row + 2}): {description}")


if __name__ == "__main__":
    main()
