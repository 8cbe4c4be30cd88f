"""Results round-trip through JSON + npz atomically; run directories keep a manifest; reports embed figures."""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from spinlens._rng import as_generator, seed_int, spawn
from spinlens.report import Section, line_plot, write_report
from spinlens.results import Estimate, Result, RunDir, load_result, save_result


@dataclass(frozen=True)
class _Toy(Result):
    name: str
    value: float
    m: np.ndarray
    energy: Estimate


def test_result_roundtrip(tmp_path) -> None:
    r = _Toy("x", float("nan"), np.arange(4.0), Estimate(1.0, 0.1, 2.0, 50.0))
    save_result(r, tmp_path, "toy")
    back = load_result(_Toy, tmp_path, "toy")
    assert back.name == "x" and np.isnan(back.value)
    assert np.array_equal(back.m, r.m)
    assert back.energy == r.energy
    d = r.to_dict()
    assert d["m"] == [0.0, 1.0, 2.0, 3.0]
    json.dumps(d)
    assert not list(tmp_path.glob(".*tmp"))


def test_estimate_formatting_and_within() -> None:
    e = Estimate(1.0, 0.01)
    assert e.within(1.02) and not e.within(1.05)
    assert "±" in str(e)
    assert float(e) == 1.0


def test_rundir_manifest_and_report(tmp_path) -> None:
    run = RunDir(tmp_path / "run", command="spinlens test", config={"a": 1}, seeds={"rng": 3})
    fig = line_plot(np.arange(3), {"y": np.arange(3)}, xlabel="x")
    p = run.save_figure(fig, "fig")
    run.save_arrays("arr", x=np.ones(3))
    man = json.loads((run.path / "manifest.json").read_text())
    assert man["config"] == {"a": 1} and man["seeds"] == {"rng": 3}
    assert man["files"]["fig.png"] == "figure" and "numpy" in man["versions"]
    html = write_report(run.path, "Title", [Section("S", ["text"], [("t", [{"k": 1.5}])], [(p, "cap")])],
                        run.manifest).read_text()
    assert "data:image/png;base64," in html and "<td>1.5</td>" in html and "Configuration" in html
    # re-opening keeps the file registry
    run2 = RunDir(tmp_path / "run", command="again")
    assert "fig.png" in run2.manifest["files"]


def test_rng_helpers() -> None:
    a, b = as_generator(5), as_generator(5)
    assert a.random() == b.random()
    g = as_generator(1)
    assert as_generator(g) is g
    kids = spawn(3, 4)
    assert len({k.random() for k in kids}) == 4
    assert isinstance(seed_int(0), int)
    with pytest.raises(TypeError):
        as_generator("seed")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        as_generator(-1)


def test_atomic_files_get_ordinary_permissions(tmp_path) -> None:
    # mkstemp makes 0o600 files; saved results must be readable like any file open() creates
    import os

    from spinlens.results import _umask, atomic_write_text

    p = atomic_write_text(tmp_path / "a.txt", "x")
    assert p.read_text() == "x"
    assert (p.stat().st_mode & 0o777) == (0o666 & ~_umask())
    ref = tmp_path / "b.txt"
    ref.write_text("y")
    assert (p.stat().st_mode & 0o777) == (ref.stat().st_mode & 0o777)
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
