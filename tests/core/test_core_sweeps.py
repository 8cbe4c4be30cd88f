"""The sweep runner: identical results everywhere, resume, corruption detection, failures, SIGINT."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from spinlens.sweeps import SweepError, Unit, run_sweep, unit_seed
from tests.core.sweep_units import noisy_mean, sometimes_fails

ROOT = Path(__file__).resolve().parents[2]
UNITS = [Unit(f"mu={mu}", {"mu": mu}) for mu in range(6)]
CONFIG = {"n": 1000}


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k]["mean"] == b[k]["mean"]
        assert np.array_equal(a[k]["samples"], b[k]["samples"])
        assert a[k]["samples"].dtype == np.float64


def test_unit_seed_depends_only_on_key() -> None:
    assert unit_seed(1, "a") == unit_seed(1, "a")
    assert unit_seed(1, "a") != unit_seed(1, "b") != unit_seed(2, "a")


def test_serial_local_and_dask_agree_bit_for_bit(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    serial = run_sweep(noisy_mean, UNITS, tmp_path / "s", config=CONFIG, seed=3, executor="serial")
    local = run_sweep(noisy_mean, UNITS, tmp_path / "l", config=CONFIG, seed=3, executor="local", n_workers=2)
    dask = run_sweep(noisy_mean, UNITS, tmp_path / "d", config=CONFIG, seed=3, executor="dask", n_workers=2)
    _same(serial.outputs, local.outputs)
    _same(serial.outputs, dask.outputs)
    assert sorted(serial.ran) == sorted(u.key for u in UNITS)


def test_resume_skips_finished_and_reruns_corrupt(tmp_path, caplog) -> None:
    first = run_sweep(noisy_mean, UNITS[:3], tmp_path, config=CONFIG, seed=1, executor="serial")
    victim = next((tmp_path / "units").glob("mu=1*.json"))
    text = victim.read_text()
    victim.write_text(text.replace('"mean": ', '"mean": 1', 1))  # flip a digit: checksum no longer matches
    with caplog.at_level("WARNING"):
        second = run_sweep(noisy_mean, UNITS, tmp_path, config=CONFIG, seed=1, executor="serial")
    assert sorted(second.reused) == ["mu=0", "mu=2"]
    assert second.rerun_corrupt == ["mu=1"]
    assert sorted(second.ran) == ["mu=1", "mu=3", "mu=4", "mu=5"]
    assert "corrupt" in caplog.text
    assert second["mu=1"]["mean"] == first["mu=1"]["mean"]


def test_units_of_another_configuration_or_seed_are_rerun(tmp_path) -> None:
    run_sweep(noisy_mean, UNITS[:2], tmp_path, config=CONFIG, seed=1, executor="serial")
    same = run_sweep(noisy_mean, UNITS[:2], tmp_path, config=CONFIG, seed=1, executor="serial")
    assert sorted(same.reused) == ["mu=0", "mu=1"] and not same.ran
    other = run_sweep(noisy_mean, UNITS[:2], tmp_path, config={"n": 999}, seed=1, executor="serial")
    assert sorted(other.ran) == ["mu=0", "mu=1"] and not other.reused and not other.rerun_corrupt
    assert other["mu=0"]["samples"].shape == (5,)
    reseeded = run_sweep(noisy_mean, UNITS[:2], tmp_path, config={"n": 999}, seed=2, executor="serial")
    assert sorted(reseeded.ran) == ["mu=0", "mu=1"]
    assert reseeded["mu=0"]["mean"] != other["mu=0"]["mean"]


def test_failing_unit_reported_with_key_others_kept(tmp_path) -> None:
    with pytest.raises(SweepError, match="mu=2.*exploded") as err:
        run_sweep(sometimes_fails, UNITS, tmp_path, seed=0, executor="serial")
    assert list(err.value.failures) == ["mu=2"]
    res = run_sweep(sometimes_fails, UNITS, tmp_path, seed=0, executor="serial", raise_on_failure=False)
    assert res.failures.keys() == {"mu=2"} and len(res.reused) == 5


def test_duplicate_keys_and_bad_executor(tmp_path) -> None:
    with pytest.raises(ValueError, match="unique"):
        run_sweep(noisy_mean, ["a", "a"], tmp_path)
    with pytest.raises(ValueError, match="executor"):
        run_sweep(noisy_mean, ["a"], tmp_path, executor="mpi")


def test_sigint_keeps_finished_units_and_resume_completes(tmp_path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from spinlens.sweeps import Unit, run_sweep
        from tests.core.sweep_units import noisy_mean
        units = [Unit(f"mu={{m}}", {{"mu": m}}) for m in range(40)]
        run_sweep(noisy_mean, units, {str(tmp_path)!r}, config={{"n": 1000}}, seed=5, executor="serial")
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "SPINLENS_TEST_UNIT_SLEEP": "0.15"})
    units_dir = tmp_path / "units"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(units_dir.glob("*.json"))) < 5:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    finished = len(list(units_dir.glob("*.json")))
    assert 5 <= finished < 40
    assert not list(units_dir.glob(".*.tmp"))  # no half-written file
    units = [Unit(f"mu={m}", {"mu": m}) for m in range(40)]
    resumed = run_sweep(noisy_mean, units, tmp_path, config={"n": 1000}, seed=5, executor="serial")
    assert len(resumed.reused) == finished and len(resumed.ran) == 40 - finished
    clean = run_sweep(noisy_mean, units, tmp_path / "clean", config={"n": 1000}, seed=5, executor="serial")
    _same(resumed.outputs, clean.outputs)


def test_in_memory_sweep_writes_nothing_and_matches_a_run_dir(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    mem = run_sweep(noisy_mean, UNITS, None, config=CONFIG, seed=3, executor="serial")
    disk = run_sweep(noisy_mean, UNITS, tmp_path / "run", config=CONFIG, seed=3, executor="serial")
    assert list(tmp_path.iterdir()) == [tmp_path / "run"]
    _same(mem.outputs, disk.outputs)
    again = run_sweep(noisy_mean, UNITS, None, config=CONFIG, seed=3, executor="serial")
    assert sorted(again.ran) == sorted(u.key for u in UNITS) and not again.reused


def test_cli_sweep_flags() -> None:
    from spinlens.cli._common import UserError, sweep_kwargs

    assert sweep_kwargs(1, None) == {"executor": "serial"}
    assert sweep_kwargs(0, None) == {"executor": "local", "n_workers": None}
    assert sweep_kwargs(3, None) == {"executor": "local", "n_workers": 3}
    assert sweep_kwargs(0, "tcp://127.0.0.1:8786") == {"executor": "dask", "scheduler": "tcp://127.0.0.1:8786"}
    with pytest.raises(UserError, match="tcp://HOST:PORT"):
        sweep_kwargs(0, "127.0.0.1:8786")
    with pytest.raises(UserError, match="--workers"):
        sweep_kwargs(-1, None)


def test_units_with_other_params_are_rerun_and_load_unit_reads_one(tmp_path) -> None:
    from spinlens.sweeps import load_unit

    run_sweep(noisy_mean, [Unit("a", {"mu": 0})], tmp_path, config=CONFIG, seed=1, executor="serial")
    np.testing.assert_array_equal(load_unit(tmp_path, "a")["samples"],
                                  run_sweep(noisy_mean, [Unit("a", {"mu": 0})], None, config=CONFIG, seed=1,
                                            executor="serial")["a"]["samples"])
    moved = run_sweep(noisy_mean, [Unit("a", {"mu": 5})], tmp_path, config=CONFIG, seed=1, executor="serial")
    assert moved.ran == ["a"] and abs(load_unit(tmp_path, "a")["mean"] - 5) < 0.2
    assert load_unit(tmp_path, "missing") is None


def test_identity_decides_reuse_and_n_workers_alone_means_a_pool(tmp_path, monkeypatch) -> None:
    from spinlens import sweeps

    first = run_sweep(noisy_mean, UNITS[:2], tmp_path, config={**CONFIG, "threads": 1}, identity=CONFIG, seed=1,
                      executor="serial")
    # config differs only outside the identity: units are reused, and they are what that config computes
    again = run_sweep(noisy_mean, UNITS[:2], tmp_path, config={**CONFIG, "threads": 8}, identity=CONFIG, seed=1,
                      executor="serial")
    assert sorted(again.reused) == ["mu=0", "mu=1"] and not again.ran
    _same(first.outputs, again.outputs)
    seen: dict[str, object] = {}
    real = sweeps.run_sweep

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **{**kwargs, "executor": "serial"})

    monkeypatch.setattr(sweeps, "run_sweep", spy)
    sweeps.run_sweep_with({"n_workers": 3}, noisy_mean, UNITS[:1], config=CONFIG, seed=1)
    assert seen["executor"] == "local" and seen["n_workers"] == 3
    sweeps.run_sweep_with(None, noisy_mean, UNITS[:1], config=CONFIG, seed=1)
    assert seen["executor"] == "serial"
    with pytest.raises(ValueError, match="unknown sweep options"):
        sweeps.run_sweep_with({"workers": 2}, noisy_mean, UNITS[:1], config=CONFIG, seed=1)
