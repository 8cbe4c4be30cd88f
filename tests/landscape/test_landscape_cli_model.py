"""`spinlens hessian/landscape --model FILE`: one safe loader, one-line errors (exit 2), any common key layout.

Every refusal must come before anything is trained (``_train`` is replaced by a function that fails the test)
and before a run directory is created; the untrusted file must never run code.
"""
from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch

import spinlens.cli.landscape as cli_landscape
from tests.cli_helpers import run_main

# tiny solver settings: the run itself is not what these tests are about
FAST = ["--n-train", "200", "--k", "1", "--trace-matvec", "6", "--density-steps", "6", "--density-vectors", "1"]


class _Evil:
    """A pickle that would write ``marker`` when unpickled (must never happen)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def _no_training(*_a: Any, **_k: Any) -> Any:
    raise AssertionError("a network was trained although --model was given or refused")




def _assert_refused(code: int, text: str, tmp: Path, *words: str) -> None:
    """Exit 2, one ``error:`` line holding ``words`` (``tmp`` written as ``<tmp>``), no traceback, no unsafe advice."""
    assert code == 2, text
    assert "Traceback" not in text, text
    assert "weights_only=False" not in text, text
    errors = [ln.replace(str(tmp), "<tmp>") for ln in text.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, text
    for w in words:
        assert w in errors[0], text


def _mlp_state(widths: list[int], seed: int = 3) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return cli_landscape._build_mlp(widths, "relu").state_dict()


@pytest.fixture(autouse=True)
def _forbid_training(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_landscape, "_train", _no_training)


@pytest.mark.parametrize("command", ["hessian", "landscape"])
@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_code_running_pickle_is_refused_without_running(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         command: str, how: str) -> None:
    marker = tmp_path / "PWNED"
    evil = tmp_path / ("evil.pkl" if how == "pickle" else "evil.pt")
    if how == "pickle":
        evil.write_bytes(pickle.dumps(_Evil(marker), protocol=4))
    else:
        torch.save(_Evil(marker), evil)
    out = tmp_path / "run"
    code, text = run_main([command, "--model", str(evil), "--out", str(out), *FAST], capsys)
    _assert_refused(code, text, tmp_path, f"<tmp>/{evil.name}")
    assert not marker.exists(), "unpickling ran code from the checkpoint"
    assert not out.exists(), "a run directory was created for a refused checkpoint"


@pytest.mark.parametrize("content", [b"hello world\n", b"", b"\x00\x01garbage" * 20])
def test_non_checkpoint_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes) -> None:
    bad = tmp_path / "weights.pt"
    bad.write_bytes(content)
    code, text = run_main(["hessian", "--model", str(bad), "--out", str(tmp_path / "run"), *FAST], capsys)
    _assert_refused(code, text, tmp_path, "<tmp>/weights.pt")
    assert "(101)" not in text


def test_missing_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run_main(["landscape", "--model", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "r")], capsys)
    _assert_refused(code, text, tmp_path, "<tmp>/nope.pt")
    assert not (tmp_path / "r").exists()


def _layouts(sd: dict[str, torch.Tensor]) -> dict[str, Any]:
    vals = list(sd.values())  # 0.weight, 0.bias, 2.weight, 2.bias
    fc = {"fc1.weight": vals[0], "fc1.bias": vals[1], "fc2.weight": vals[2], "fc2.bias": vals[3]}
    return {
        "plain.pt": sd,
        "wrapped.pt": {"model": sd},
        "plain.safetensors": sd,
        "fc.pt": fc,
        "lightning.ckpt": {"state_dict": {f"model.{k}": v for k, v in sd.items()}, "epoch": 3, "global_step": 12},
        "fc.safetensors": fc,
    }


def _save(obj: dict[str, Any], path: Path) -> Path:
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in obj.items()}, str(path))
    else:
        torch.save(obj, path)
    return path


@pytest.mark.parametrize("name", ["plain.pt", "wrapped.pt", "plain.safetensors"])
def test_common_checkpoint_layouts_load_the_same_weights(tmp_path: Path, name: str) -> None:
    sd = _mlp_state([64, 8, 10])
    path = _save(_layouts(sd)[name], tmp_path / name)
    st = cli_landscape._setup(path, "digits", "8", "relu", 50, 0)
    for key, value in st.net.state_dict().items():
        assert torch.equal(value, sd[key]), (name, key)
    assert st.model is not None and st.model["path"] == str(path) and len(st.model["sha256"]) == 64
    assert "by name" in st.model["keys"]


@pytest.mark.parametrize("name", ["fc.pt", "lightning.ckpt", "fc.safetensors"])
def test_names_that_do_not_prove_the_chain_are_refused(tmp_path: Path, name: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The same rule as to_spins: a state dict with other names could be any network (a residual one too)."""
    path = _save(_layouts(_mlp_state([64, 8, 10]))[name], tmp_path / name)
    code, text = run_main(["hessian", "--hidden", "8", "--model", str(path), "--out", str(tmp_path / "r"), *FAST],
                         capsys)
    _assert_refused(code, text, tmp_path, "does not show the forward pass")


def test_a_residual_mlp_is_not_read_as_a_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Review of issue 17: a residual MLP's Linear layers used to be matched by shape and its Hessian computed."""
    vals = list(_mlp_state([64, 16, 16, 10]).values())
    sd = {"fc1.weight": vals[0], "fc1.bias": vals[1], "blocks.0.weight": vals[2], "blocks.0.bias": vals[3],
          "out.weight": vals[4], "out.bias": vals[5]}
    path = _save(sd, tmp_path / "res.pt")
    code, text = run_main(["hessian", "--hidden", "16,16", "--model", str(path), "--out", str(tmp_path / "r"), *FAST],
                         capsys)
    _assert_refused(code, text, tmp_path, "does not show the forward pass")


def test_wrapped_checkpoint_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sd = _mlp_state([64, 8, 10])
    path = _save({"model": sd, "epoch": 1}, tmp_path / "run.ckpt")
    X, y, *_ = cli_landscape._data("digits", 200, 0)
    with torch.no_grad():
        net = cli_landscape._build_mlp([64, 8, 10], "relu")
        net.load_state_dict(sd)
        want = float(torch.nn.functional.cross_entropy(net(X), y))
    out = tmp_path / "run"
    code, text = run_main(["hessian", "--hidden", "8", "--model", str(path), "--out", str(out), *FAST], capsys)
    assert code == 0, text
    s = json.loads((out / "summary.json").read_text())
    assert s["train_loss"] == pytest.approx(want, rel=1e-5)
    cfg = json.loads((out / "manifest.json").read_text())["config"]
    assert cfg["training"]["trained"] is False and cfg["model"]["path"] == str(path)
    assert "run.ckpt" in (out / "report.html").read_text()


def test_wrong_hidden_width_names_the_shapes_and_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "net16.pt"
    torch.save(_mlp_state([64, 16, 10]), path)
    code, text = run_main(["hessian", "--hidden", "32", "--model", str(path), "--out", str(tmp_path / "r"), *FAST],
                         capsys)
    _assert_refused(code, text, tmp_path, "(32, 64)", "(16, 64)", "--hidden 16")
    assert not (tmp_path / "r").exists()


def test_wrong_dataset_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "net.pt"
    torch.save(_mlp_state([784, 8, 10]), path)
    code, text = run_main(["hessian", "--hidden", "8", "--model", str(path), "--out", str(tmp_path / "r"), *FAST],
                         capsys)
    _assert_refused(code, text, tmp_path, "784 inputs", "64")


@pytest.mark.parametrize("defect", ["nan", "no_bias", "batchnorm", "integer"])
def test_defective_state_dicts_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], defect: str) -> None:
    sd = dict(_mlp_state([64, 8, 10]))
    if defect == "nan":
        sd["2.weight"] = sd["2.weight"].clone()
        sd["2.weight"][0, 0] = float("nan")
        word = "NaN"
    elif defect == "no_bias":
        del sd["0.bias"]
        word = "bias"
    elif defect == "batchnorm":
        sd["1.running_mean"] = torch.zeros(8)
        word = "1.running_mean"
    else:
        sd["0.weight"] = torch.ones(8, 64, dtype=torch.int64)
        word = "0.weight"
    path = tmp_path / "bad.pt"
    torch.save(sd, path)
    code, text = run_main(["hessian", "--hidden", "8", "--model", str(path), "--out", str(tmp_path / "r"), *FAST],
                         capsys)
    _assert_refused(code, text, tmp_path, word)


def test_training_options_do_not_apply_to_a_read_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Review of issue 17 (item 6 for hessian): --epochs/--lr were silently ignored with --model."""
    path = _save(_mlp_state([64, 8, 10]), tmp_path / "net.pt")
    code, text = run_main(["hessian", "--hidden", "8", "--model", str(path), "--epochs", "5", "--out",
                          str(tmp_path / "r"), *FAST], capsys)
    _assert_refused(code, text, tmp_path, "--epochs", "nothing is trained")
