"""Every CLI command refuses bad input with exit code 2 and a short ``error:`` message (issue #17, item 15).

Each registered command and sub-command has rows in :data:`CASES`: bad numbers, negative sizes, NaN,
missing files, wrong file types (a text file, an empty file, a pickle, a directory), empty inputs. The
command runs in-process through :func:`spinlens.cli.main.main`; it must exit with code 2, print no
traceback, and say what is wrong in one ``error:`` line (plus at most one ``hint:`` line).
:func:`test_every_command_is_covered` checks the table against the commands the app registers.

Cases that still fail are strict xfails (see :data:`KNOWN_GAPS`; empty: every case passes).
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from spinlens.cli.main import app
from tests.cli_helpers import run_main

TMP = "{tmp}"  # replaced by a fresh directory per case


def registered_commands() -> list[str]:
    """Every command path the app registers ("hopfield capacity", ...), groups with a callback included."""
    import typer

    out: list[str] = []

    def walk(cmd: object, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            if path and getattr(cmd, "callback", None) is not None and getattr(cmd, "invoke_without_command", False):
                out.append(" ".join(path))
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            out.append(" ".join(path))

    walk(typer.main.get_command(app), [])
    return out


# Small valid arguments, so that a bad value that slips through does not start a long run.
TINY = {
    "demo": ["--workers", "1"],
    "phases": ["--steps", "2", "--n-checkpoints", "2", "--widths", "64,4,10", "--n-samples", "64", "--workers", "1"],
    "exact": ["--size", "3"],
    "ising": ["--L", "4", "--temps", "2.0", "--sweeps", "8", "--chains", "1", "--workers", "1"],
    "sk": ["--N", "4", "--temps", "0.5,1.0", "--samples", "1", "--sweeps", "4", "--anneal-steps", "2",
           "--restarts", "1", "--workers", "1"],
    "tap": ["--n-temps", "3"],
    "landscape": ["--epochs", "1", "--n-train", "64", "--grid", "3", "--k", "1", "--n-planes", "2", "--hidden", "4"],
    "hessian": ["--epochs", "1", "--n-train", "64", "--k", "1", "--trace-matvec", "6", "--density-steps", "4",
                "--density-vectors", "1", "--hidden", "4"],
    "maxent fit": ["--max-iter", "3"],
    "hopfield capacity": ["--sizes", "10,12,14", "--alphas", "0.1,0.14,0.18", "--n-tested", "2", "--workers", "1"],
    "hopfield phase-diagram": ["--n-spins", "20", "--alphas", "0.05", "--temperatures", "0.2", "--n-trials", "1",
                               "--n-sweeps", "2", "--n-lines", "3", "--workers", "1"],
    "perceptron capacity": ["--sizes", "6,8,10", "--n-trials", "2", "--workers", "1"],
    "rbm train": ["--n-hidden", "4", "--n-epochs", "1", "--n-betas", "10", "--n-chains", "4"],
    "criticality": ["--grid", "4", "--no-simulate"],
    "criticality init": [],
    "report": [], "rerun": [], "doctor": [],
}

# (command, bad arguments, what the case is). File names in braces are made by the fixture ``files``.
CASES: list[tuple[str, list[str], str]] = [
    ("demo", ["--size", "-3"], "negative lattice size"),
    ("demo", ["--size", "abc"], "not a number"),
    ("demo", ["--foundation", "--n-temps", "0"], "zero temperatures"),
    ("demo", ["--workers", "-1"], "negative workers"),
    ("demo", ["--scheduler", "not-an-address"], "bad scheduler address"),
    ("phases", ["--steps", "-5"], "negative steps"),
    ("phases", ["--widths", "abc"], "widths not numbers"),
    ("phases", ["--widths", "64,-4,10"], "negative width"),
    ("phases", ["--lr", "nan"], "NaN learning rate"),
    ("phases", ["--dataset", "{text}"], "dataset is a text file"),
    ("phases", ["--checkpoints", "{missing}"], "missing checkpoint folder"),
    ("phases", ["--batch-size", "0"], "zero batch size"),
    ("phases", ["--arch", "vgg"], "unknown architecture"),
    ("phases", ["--channels", "16,32"], "channels for the MLP"),
    ("phases", ["--arch", "cnn", "--channels", "a,b"], "channels not numbers"),
    ("phases", ["--input-shape", "1,28,28"], "input shape when training"),
    ("phases", ["--preset", "nope"], "unknown preset"),
    ("phases", ["--seeds", "0"], "zero seeds"),
    ("phases", ["--compare", "--lazy"], "compare with one variant"),
    ("phases", ["--test-fraction", "1.5"], "held-out share above 1"),
    ("exact", ["--size", "-3"], "negative size"),
    ("exact", ["--size", "abc"], "size not a number"),
    ("exact", ["--beta", "nan"], "NaN beta"),
    ("exact", ["--beta", "-1"], "negative beta"),
    ("exact", ["--betas", "1:0:x"], "bad beta grid"),
    ("exact", ["--betas", ""], "empty beta grid"),
    ("exact", ["--npz", "{text}"], "npz is a text file"),
    ("exact", ["--npz", "{empty}"], "npz is empty"),
    ("exact", ["--npz", "{pickle}"], "npz is a pickle"),
    ("exact", ["--npz", "{missing}"], "npz missing"),
    ("exact", ["--npz", "{dir}"], "npz is a directory"),
    ("exact", ["--npz", "{asym}"], "npz with a non-symmetric J"),
    ("exact", ["--max-spins", "0"], "zero max spins"),
    ("exact", ["--model", "layered-sk", "--widths", "3,-1"], "negative layer width"),
    ("ising", ["--L", "abc"], "L not numbers"),
    ("ising", ["--L", "-4"], "negative L"),
    ("ising", ["--L", ""], "empty L"),
    ("ising", ["--temps", "nan"], "NaN temperature"),
    ("ising", ["--temps", "0:1:0"], "empty temperature grid"),
    ("ising", ["--sweeps", "0"], "zero sweeps"),
    ("ising", ["--chains", "0"], "zero chains"),
    ("ising", ["--method", "bogus"], "unknown method"),
    ("sk", ["--N", "abc"], "N not numbers"),
    ("sk", ["--N", "2"], "N too small"),
    ("sk", ["--temps", "nan,1.0"], "NaN temperature"),
    ("sk", ["--samples", "0"], "zero samples"),
    ("sk", ["--sweeps", "-1"], "negative sweeps"),
    ("sk", ["--couplings", "bogus"], "unknown coupling storage"),
    ("tap", ["--npz", "{text}"], "npz is a text file"),
    ("tap", ["--npz", "{empty}"], "npz is empty"),
    ("tap", ["--npz", "{pickle}"], "npz is a pickle"),
    ("tap", ["--npz", "{missing}"], "npz missing"),
    ("tap", ["--npz", "{dir}"], "npz is a directory"),
    ("tap", ["--npz", "{asym}"], "non-symmetric J"),
    ("tap", ["--npz", "{model}", "--tmin", "-1"], "negative tmin"),
    ("tap", ["--npz", "{model}", "--tmax", "nan"], "NaN tmax"),
    ("tap", ["--npz", "{model}", "--n-temps", "0"], "zero temperatures"),
    ("tap", ["--npz", "{model}", "--tol", "-1"], "negative tol"),
    ("tap", ["--npz", "{model}", "--max-iter", "0"], "zero iterations"),
    ("landscape", ["--dataset", "{text}"], "dataset is a text file"),
    ("landscape", ["--hidden", "abc"], "hidden not numbers"),
    ("landscape", ["--epochs", "-1"], "negative epochs"),
    ("landscape", ["--lr", "nan"], "NaN learning rate"),
    ("landscape", ["--grid", "0"], "zero grid"),
    ("landscape", ["--model", "{text}"], "model is a text file"),
    ("landscape", ["--model", "{pickle}"], "model is a pickle"),
    ("landscape", ["--model", "{missing}"], "model missing"),
    ("hessian", ["--which", "bogus"], "unknown which"),
    ("hessian", ["--k", "0"], "zero k"),
    ("hessian", ["--trace-matvec", "0"], "zero matvecs"),
    ("hessian", ["--backend", "bogus"], "unknown backend"),
    ("hessian", ["--model", "{empty}"], "model is empty"),
    ("hessian", ["--n-train", "-1"], "negative n-train"),
    ("report", ["{missing}"], "missing run directory"),
    ("report", ["{text}"], "a text file"),
    ("report", ["{dir}"], "a directory that is no run"),
    ("report", ["{badrun}"], "a run directory with a broken report.json"),
    ("rerun", ["{missing}"], "missing run directory"),
    ("rerun", ["{text}"], "a text file"),
    ("rerun", ["{dir}"], "a directory that is no run"),
    ("rerun", ["{badrun}"], "a run directory with a broken manifest"),
    ("doctor", ["--bogus"], "unknown option"),
    ("maxent fit", ["{text}"], "data is a text file"),
    ("maxent fit", ["{empty}"], "data is empty"),
    ("maxent fit", ["{pickle}"], "data is a pickle"),
    ("maxent fit", ["{missing}"], "data missing"),
    ("maxent fit", ["{dir}"], "data is a directory"),
    ("maxent fit", ["{spins}", "--method", "bogus"], "unknown method"),
    ("maxent fit", ["{spins}", "--l1", "-1"], "negative l1"),
    ("maxent fit", ["{spins}", "--max-iter", "0"], "zero iterations"),
    ("maxent fit", ["{nanspins}"], "data with NaN"),
    ("hopfield capacity", ["--sizes", "abc"], "sizes not numbers"),
    ("hopfield capacity", ["--sizes", "-10,12,14"], "negative size"),
    ("hopfield capacity", ["--alphas", "nan,0.1,0.2"], "NaN load"),
    ("hopfield capacity", ["--n-tested", "0"], "zero tested"),
    ("hopfield capacity", ["--rule", "bogus"], "unknown rule"),
    ("hopfield phase-diagram", ["--n-spins", "0"], "zero spins"),
    ("hopfield phase-diagram", ["--alphas", "-1"], "negative load"),
    ("hopfield phase-diagram", ["--temperatures", "nan"], "NaN temperature"),
    ("hopfield phase-diagram", ["--n-trials", "0"], "zero trials"),
    ("hopfield phase-diagram", ["--n-sweeps", "0"], "zero sweeps"),
    ("perceptron capacity", ["--sizes", "abc"], "sizes not numbers"),
    ("perceptron capacity", ["--sizes", "10,20"], "two sizes"),
    ("perceptron capacity", ["--sizes", "-10,12,14"], "negative size"),
    ("perceptron capacity", ["--n-trials", "1"], "one trial"),
    ("perceptron capacity", ["--patterns", "bogus"], "unknown pattern kind"),
    ("perceptron capacity", ["--exponent", "nan"], "NaN exponent"),
    ("perceptron capacity", ["--workers", "-1"], "negative workers"),
    ("rbm train", ["--dataset", "{text}"], "dataset is a text file"),
    ("rbm train", ["--n-hidden", "0"], "zero hidden units"),
    ("rbm train", ["--n-epochs", "-1"], "negative epochs"),
    ("rbm train", ["--learning-rate", "nan"], "NaN learning rate"),
    ("rbm train", ["--batch-size", "0"], "zero batch size"),
    ("rbm train", ["--momentum", "2"], "momentum above 1"),
    ("criticality", ["--grid", "0"], "zero grid"),
    ("criticality", ["--activation", "bogus"], "unknown activation"),
    ("criticality", ["--sigma-b2", "nan"], "NaN bias variance"),
    ("criticality", ["--simulate", "--width", "0"], "zero width"),
    ("criticality", ["--simulate", "--depth", "-1"], "negative depth"),
    ("criticality init", ["--activation", "bogus"], "unknown activation"),
    ("criticality init", ["--activation", ""], "empty activation"),
]

# "command|description" -> reason. Fix the code, then delete the line.
KNOWN_GAPS: dict[str, str] = {}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """Bad (and a few valid) input files for the cases."""
    d = tmp_path / "inputs"
    d.mkdir()
    (d / "text.npz").write_text("this is not an npz file\n")
    (d / "empty.npz").write_bytes(b"")
    (d / "data.pkl").write_bytes(pickle.dumps({"J": np.eye(2)}))
    (d / "a_dir").mkdir()
    g = np.random.default_rng(0)
    A = np.triu(g.normal(size=(4, 4)), 1)
    np.savez(d / "model.npz", J=A + A.T, h=np.zeros(4))
    np.savez(d / "asym.npz", J=g.normal(size=(4, 4)))
    np.save(d / "spins.npy", np.where(g.random((50, 4)) < 0.5, -1, 1))
    bad = np.where(g.random((50, 4)) < 0.5, -1.0, 1.0)
    bad[3, 1] = np.nan
    np.save(d / "nanspins.npy", bad)
    run = d / "badrun"
    run.mkdir()
    (run / "report.json").write_text("{not json")
    (run / "manifest.json").write_text("{not json")
    return {"text": str(d / "text.npz"), "empty": str(d / "empty.npz"), "pickle": str(d / "data.pkl"),
            "missing": str(d / "missing.npz"), "dir": str(d / "a_dir"), "model": str(d / "model.npz"),
            "asym": str(d / "asym.npz"), "spins": str(d / "spins.npy"), "nanspins": str(d / "nanspins.npy"),
            "badrun": str(run)}


def _argv(command: str, bad: list[str], files: dict[str, str], out: Path) -> list[str]:
    args = [a.format(**files) for a in bad]
    base = list(TINY[command])
    if command == "tap" and "--npz" not in bad:
        base += ["--npz", files["model"]]
    # the bad flag wins: drop the tiny value of any option the case sets
    flags = {a for a in bad if a.startswith("--")}
    flags |= {"--no-" + a[2:] for a in flags}  # --simulate in a case overrides --no-simulate in TINY
    keep: list[str] = []
    i = 0
    while i < len(base):
        if base[i] in flags:
            i += 1 if (i + 1 < len(base) and base[i + 1].startswith("--")) or base[i].startswith("--no-") else 2
            continue
        keep.append(base[i])
        i += 1
    takes_out = command not in ("report", "doctor", "criticality init")
    out_args = ["--out", str(out)] if takes_out else []
    return [*command.split(), *args, *keep, *out_args]  # positional arguments come first in ``bad``


def _params() -> list[object]:
    out = []
    for command, bad, what in CASES:
        key = f"{command}|{what}"
        marks = [pytest.mark.xfail(reason=KNOWN_GAPS[key], strict=True)] if key in KNOWN_GAPS else []
        out.append(pytest.param(command, bad, what, id=f"{command}-{what}".replace(" ", "_"), marks=marks))
    return out


def test_every_command_is_covered() -> None:
    commands = registered_commands()
    covered = {c for c, _, _ in CASES}
    assert set(commands) - covered == set(), f"commands without bad-input cases: {set(commands) - covered}"
    assert covered - set(commands) == set(), f"cases for commands that no longer exist: {covered - set(commands)}"
    assert set(TINY) >= covered
    assert set(KNOWN_GAPS) <= {f"{c}|{w}" for c, _, w in CASES}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command,bad,what", _params())
def test_bad_input_exits_2_with_one_error_line(command: str, bad: list[str], what: str, files: dict[str, str],
                                               tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPINLENS_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)
    argv = _argv(command, bad, files, tmp_path / "run")
    code, text = run_main(argv, capsys)
    assert "Traceback" not in text, f"{argv}: traceback printed:\n{text}"
    assert code == 2, f"{argv} ({what}): exit code {code}, expected 2:\n{text[-2000:]}"
    # the run-directory announcement (wrapped by rich when the path is long) is not part of the message
    text = re.sub(r"run directory:\s*\S+", "", text)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, f"{argv}: expected one 'error:' line, got:\n{text}"
    others = [ln for ln in lines if not ln.startswith(("error:", "hint:"))]
    assert len(lines) <= 2 and not others, f"{argv}: the message is more than an error and a hint line:\n{text}"
