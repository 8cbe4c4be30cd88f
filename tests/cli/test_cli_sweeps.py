"""Commands that loop over units of work run them through spinlens.sweeps: serial, local pool and a Dask
cluster (``--scheduler``) give the same numbers bit for bit, and a re-run resumes finished units."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from spinlens.cli.main import app

runner = CliRunner()
ISING = ["ising", "--L", "4,6", "--temps", "2.0:2.6:3", "--sweeps", "200", "--chains", "2", "--seed", "4"]


def _arrays(run) -> dict[str, np.ndarray]:
    with np.load(run / "results.npz") as z:
        return {k: z[k] for k in z.files}


def _same(a, b) -> None:
    A, B = _arrays(a), _arrays(b)
    assert A.keys() == B.keys()
    for k in A:
        np.testing.assert_array_equal(A[k], B[k], err_msg=k)


def test_ising_serial_pool_and_dask_agree_and_resume(tmp_path) -> None:
    serial, pool = tmp_path / "serial", tmp_path / "pool"
    r = runner.invoke(app, [*ISING, "--workers", "1", "--out", str(serial)])
    assert r.exit_code == 0, r.output
    units = sorted((serial / "units").glob("*.json"))
    assert len(units) == 6  # 2 sizes x 3 temperatures
    r = runner.invoke(app, [*ISING, "--workers", "2", "--out", str(pool)])
    assert r.exit_code == 0, r.output
    _same(serial, pool)

    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        dask = tmp_path / "dask"
        r = runner.invoke(app, [*ISING, "--scheduler", c.scheduler_address, "--out", str(dask)])
        assert r.exit_code == 0, r.output
    _same(serial, dask)

    # re-running the same command reuses every unit file (untouched) and gives the same results
    before = {p.name: p.stat().st_mtime_ns for p in units}
    r = runner.invoke(app, [*ISING, "--workers", "1", "--out", str(serial)])
    assert r.exit_code == 0, r.output
    assert {p.name: p.stat().st_mtime_ns for p in sorted((serial / "units").glob("*.json"))} == before
    _same(serial, pool)
    # another configuration in the same run directory recomputes instead of reusing stale units
    r = runner.invoke(app, [*ISING[:-2], "--seed", "5", "--workers", "1", "--out", str(serial)])
    assert r.exit_code == 0, r.output
    assert json.loads((serial / "manifest.json").read_text())["seeds"]["scan"] == 5
    assert not np.array_equal(_arrays(serial)["energy"], _arrays(pool)["energy"])


def test_bad_scheduler_address_is_one_clear_line(tmp_path) -> None:
    r = runner.invoke(app, [*ISING, "--scheduler", "localhost:8786", "--out", str(tmp_path / "x")])
    assert r.exit_code != 0
    assert "tcp://HOST:PORT" in str(r.exception)


def test_failing_units_exit_1_and_keep_the_others(tmp_path, monkeypatch, capsys) -> None:
    from spinlens.cli.main import main
    from spinlens.sampling import scan

    real = scan.ising_point

    def flaky(config, key, params, seed):
        if params["L"] == 6 and params["T"] > 2.5:
            raise RuntimeError("this unit fails on purpose")
        return real(config, key, params, seed)

    monkeypatch.setattr(scan, "ising_point", flaky)
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as ex:
        main([*ISING, "--workers", "1", "--out", str(out)])
    assert ex.value.code == 1
    err = capsys.readouterr().err
    assert "L=6,T=2.6" in err and "fails on purpose" in err and "Traceback" not in err
    assert len(list((out / "units").glob("*.json"))) == 5
    monkeypatch.setattr(scan, "ising_point", real)
    with pytest.raises(SystemExit) as ex:
        main([*ISING, "--workers", "1", "--out", str(out)])
    assert ex.value.code in (0, None)
    assert (out / "report.html").exists()


def test_unknown_method_is_refused_before_any_unit_runs(tmp_path, capsys) -> None:
    from spinlens.cli.main import main

    out = tmp_path / "run"
    with pytest.raises(SystemExit) as ex:
        main([*ISING, "--method", "glauber", "--workers", "1", "--out", str(out)])
    assert ex.value.code == 2
    assert "unknown method 'glauber'" in capsys.readouterr().err
    assert not list((out / "units").glob("*.json"))


def test_phases_checkpoint_analyses_agree_serial_and_pooled(tmp_path) -> None:
    tiny = ["phases", "--dataset", "digits", "--n-samples", "300", "--widths", "64,16,10", "--steps", "20",
            "--n-checkpoints", "4", "--n-starts", "2", "--tap-checkpoints", "1", "--lr", "0.1"]
    serial, pool = tmp_path / "serial", tmp_path / "pool"
    r = runner.invoke(app, [*tiny, "--workers", "1", "--out", str(serial)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, [*tiny, "--workers", "2", "--out", str(pool)])
    assert r.exit_code == 0, r.output
    assert len(list((pool / "analysis" / "units").glob("step_*.json"))) == 4
    _same(serial, pool)
    # a run folder moved elsewhere (checkpoints and analyses with it) resumes: nothing is analysed again
    import shutil

    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(serial, moved)
    units = sorted((moved / "analysis" / "units").glob("step_*.json"))
    before = {p.name: p.stat().st_mtime_ns for p in units}
    r = runner.invoke(app, [*tiny, "--workers", "1", "--out", str(moved)])
    assert r.exit_code == 0, r.output
    assert {p.name: p.stat().st_mtime_ns for p in units} == before
    _same(serial, moved)
