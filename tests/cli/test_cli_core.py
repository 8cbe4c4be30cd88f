"""The CLI shell: --version, --help, demo, --config, report re-rendering, rerun, doctor, error handling."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from spinlens import __version__
from spinlens.cli._common import UserError
from spinlens.cli.main import app, main

runner = CliRunner()


COMMANDS = ["demo", "phases", "exact", "ising", "sk", "tap", "maxent", "hopfield", "rbm", "landscape", "hessian",
            "criticality", "report", "rerun", "doctor"]


def test_version_and_help() -> None:
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and __version__ in r.output
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0 and "demo" in r.output and "doctor" in r.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_on_the_main_app(command: str) -> None:
    r = runner.invoke(app, [command, "--help"])
    assert r.exit_code == 0, r.output
    assert "Usage" in r.output and command in r.output


def exact_args(out) -> list[str]:
    return ["exact", "--model", "square", "--size", "3", "--betas", "0.2:1.0:5", "--out", str(out)]


def test_config_file_rerun_and_report(tmp_path, monkeypatch) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text('model = "square"\nsize = 3\nbetas = "0.2:1.0:5"\n')
    out = tmp_path / "a"
    with pytest.raises(SystemExit) as ex:
        main(["exact", "--config", str(cfg), "--out", str(out)])
    assert ex.value.code in (0, None)
    man = json.loads((out / "manifest.json").read_text())
    assert man["config"]["n_spins"] == 9 and len(man["config"]["betas"]) == 5
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
        main(["exact", "--config", str(tmp_path / "missing.toml")])
    assert ex.value.code == 2


def test_debug_works_after_the_subcommand_too(tmp_path, capsys, monkeypatch) -> None:
    """--debug anywhere on the line shows the traceback; without it, one line and exit 2 (issue 17, item 14)."""
    monkeypatch.delenv("SPINLENS_DEBUG", raising=False)
    with pytest.raises(SystemExit) as ex:
        main(["exact", "--size", "9", "--out", str(tmp_path / "x")])
    assert ex.value.code == 2 and "Traceback" not in capsys.readouterr().err
    monkeypatch.setenv("SPINLENS_DEBUG", "")  # restored after the test (main sets it for --debug)
    for argv in (["--debug", "exact", "--size", "9"], ["exact", "--size", "9", "--debug"]):
        monkeypatch.setenv("SPINLENS_DEBUG", "")
        with pytest.raises(UserError, match="above --max-spins"):
            main([*argv, "--out", str(tmp_path / "y")])


def test_unexpected_errors_are_one_line_and_exit_1(monkeypatch, capsys) -> None:
    import spinlens.cli.main as cli_main

    monkeypatch.delenv("SPINLENS_DEBUG", raising=False)

    def boom(*a, **k):
        raise KeyError("surprise")

    monkeypatch.setattr(cli_main, "app", boom)
    with pytest.raises(SystemExit) as ex:
        main(["doctor"])
    err = capsys.readouterr().err
    assert ex.value.code == 1 and "Traceback" not in err and "bug in spinlens" in err


def test_doctor() -> None:
    r = runner.invoke(app, ["doctor"])
    assert r.exit_code == 0, r.output
    assert "numba threads" in r.output and "data digits" in r.output and "ok" in r.output
