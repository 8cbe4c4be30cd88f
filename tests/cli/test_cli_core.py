"""The CLI shell: --version, --help, demo, --config, report re-rendering, rerun, doctor, error handling."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from spinlens import __version__
from spinlens.cli.main import app, main

runner = CliRunner()


def test_version_and_help() -> None:
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and __version__ in r.output
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0 and "demo" in r.output and "doctor" in r.output


def test_demo_writes_a_complete_run_dir(tmp_path) -> None:
    out = tmp_path / "demo"
    r = runner.invoke(app, ["demo", "--out", str(out), "--size", "3", "--n-temps", "6"])
    assert r.exit_code == 0, r.output
    for name in ("manifest.json", "report.html", "report.json", "energy.png", "thermodynamics.npz"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())["summary"]
    assert summary[0]["value"] < 1e-10  # enumeration equals Kaufman's formula


def test_config_file_rerun_and_report(tmp_path, monkeypatch) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text('size = 3\nn_temps = 5\n')
    out = tmp_path / "a"
    with pytest.raises(SystemExit) as ex:
        main(["demo", "--config", str(cfg), "--out", str(out)])
    assert ex.value.code in (0, None)
    man = json.loads((out / "manifest.json").read_text())
    assert man["config"]["L"] == 3 and len(man["config"]["temperatures"]) == 5
    assert "--size" in man["argv"]
    (out / "report.html").unlink()
    r = runner.invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output
    assert "data:image/png;base64" in (out / "report.html").read_text()
    b = tmp_path / "b"
    with pytest.raises(SystemExit) as ex:
        main(["rerun", str(out), "--out", str(b)])
    assert ex.value.code in (0, None)
    assert json.loads((b / "manifest.json").read_text())["config"] == man["config"]


def test_errors_are_one_line_with_hint(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as ex:
        main(["report", str(tmp_path)])
    assert ex.value.code == 2
    err = capsys.readouterr().err
    assert "no report.json" in err and "Traceback" not in err and "--debug" in err
    with pytest.raises(SystemExit) as ex:
        main(["demo", "--config", str(tmp_path / "missing.toml")])
    assert ex.value.code == 2


def test_doctor() -> None:
    r = runner.invoke(app, ["doctor"])
    assert r.exit_code == 0, r.output
    assert "numba threads" in r.output and "data digits" in r.output and "ok" in r.output
