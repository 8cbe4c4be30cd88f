"""Unit functions used by the sweep tests (importable by worker processes)."""
from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np


def noisy_mean(config: Mapping[str, Any], key: str, params: Mapping[str, Any], seed: int) -> dict[str, Any]:
    g = np.random.default_rng(seed)
    x = g.normal(params["mu"], 1.0, size=config["n"])
    # a test knob outside the configuration (a slow unit must give the same result as a fast one)
    if os.environ.get("SPINLENS_TEST_UNIT_SLEEP"):
        time.sleep(float(os.environ["SPINLENS_TEST_UNIT_SLEEP"]))
    return {"mean": float(x.mean()), "samples": x[:5], "key": key}


def sometimes_fails(config: Mapping[str, Any], key: str, params: Mapping[str, Any], seed: int) -> float:
    if params["mu"] == 2:
        raise RuntimeError("unit exploded on purpose")
    return float(params["mu"]) * 10
