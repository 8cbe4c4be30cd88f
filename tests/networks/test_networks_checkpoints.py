"""Checkpoints read as people save them, and never read wrongly in silence (issue: no silent wrong answers)."""
from __future__ import annotations

import io
import json
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from spinlens.networks import CheckpointError, checkpoint_step, list_checkpoints, load_checkpoint, mlp, to_spins
from spinlens.networks.phases import analyze, class_alignment


def _tc(net) -> float:
    """The transition temperature (T_* where the stability curve is lowest: T_c in hidden order)."""
    return float(analyze(to_spins(net), n_starts=0).t_star)


# ---------------------------------------------------------------------------------------------- steps
@pytest.mark.parametrize("name, step", [
    ("step_10.pt", 10), ("step_000100.safetensors", 100), ("epoch=3-step=1200.ckpt", 1200), ("global_step300.pth", 300),
    ("ckpt_100.pt", 100), ("000250.pt", 250), ("iter-300.pth", 300), ("ckpt_step5.pt", 5),
    ("final.pt", None), ("best.ckpt", None), ("init.pt", None), ("last.ckpt", None), ("epoch_3.pt", None),
    ("run2_300.pt", None), ("resnet18.pt", None), ("model_v2.pt", None), ("best_v2.pt", None),
    ("warmup_steps_500_step_100.pt", None),
])
def test_the_step_is_read_from_the_name_or_not_at_all(name, step):
    assert checkpoint_step(name) == step


def _save_chain(path, scale=1.0, widths=(6, 5, 4, 3), seed=0):
    net = mlp(list(widths), rng=seed)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(scale)
    torch.save(net.state_dict(), path)
    return net


def test_a_file_without_a_step_is_refused_by_name_never_given_one(tmp_path):
    """Item 3: final.pt used to become step 0 (alphabetical position) and be reported as the initialisation."""
    for s in (10, 100, 300):
        _save_chain(tmp_path / f"step_{s}.pt", scale=1 + s / 100)
    _save_chain(tmp_path / "final.pt", scale=9.0)
    with pytest.raises(CheckpointError, match=r"final\.pt.*never guesses.*--steps-from"):
        list_checkpoints(tmp_path)
    (tmp_path / "steps.csv").write_text("file,step\nstep_10.pt,10\nstep_100.pt,100\nstep_300.pt,300\nfinal.pt,2000\n")
    cks = list_checkpoints(tmp_path, steps_from=tmp_path / "steps.csv")
    assert [(s, p.name) for s, p in cks] == [(10, "step_10.pt"), (100, "step_100.pt"), (300, "step_300.pt"),
                                             (2000, "final.pt")]
    (tmp_path / "steps.json").write_text(json.dumps({"final.pt": 2000, "step_10.pt": 10}))
    assert [s for s, _ in list_checkpoints(tmp_path, steps_from=tmp_path / "steps.json")] == [10, 2000]
    (tmp_path / "bad.csv").write_text("final.pt,soon\n")
    with pytest.raises(ValueError, match="not an integer"):
        list_checkpoints(tmp_path, steps_from=tmp_path / "bad.csv")
    (tmp_path / "missing.csv").write_text("nothere.pt,5\n")
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        list_checkpoints(tmp_path, steps_from=tmp_path / "missing.csv")


def test_training_state_files_are_skipped_and_lightning_ckpt_folders_are_read(tmp_path):
    """Item 9: optimizer_N.pt beside ckpt_N.pt, and *.ckpt folders."""
    net = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    for s in (0, 50, 500):
        torch.save({"state_dict": {f"model.{k}": v for k, v in net.state_dict().items()}, "epoch": 1,
                    "global_step": s, "optimizer_states": [{"state": {}, "param_groups": []}]},
                   tmp_path / f"epoch=0-step={s}.ckpt")
        torch.save(torch.optim.SGD(net.parameters(), lr=0.1).state_dict(), tmp_path / f"optimizer_{s}.pt")
    cks = list_checkpoints(tmp_path)
    assert [s for s, _ in cks] == [0, 50, 500] and all(p.suffix == ".ckpt" for _, p in cks)
    assert set(load_checkpoint(cks[0][1])) == {"model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias"}
    with pytest.raises(ValueError, match="only the keys of an nn.Sequential itself"):
        to_spins(str(cks[0][1]))  # "model.0" may be a ModuleList of a residual forward: the module is needed
    from spinlens.networks.experiment import _load_network

    net2 = _load_network(cks[0][1], lambda: nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)))
    assert to_spins(net2).widths == (6, 5, 3)  # the LightningModule's "model." prefix is stripped for the module


def test_bare_numbers_are_steps_only_in_a_folder_of_alike_names(tmp_path):
    """Review: best_v2.pt beside step_*.pt used to become step 2, the reference of the whole run."""
    for s in (10, 100, 300):
        _save_chain(tmp_path / f"step_{s}.pt")
    _save_chain(tmp_path / "best_v2.pt")
    with pytest.raises(CheckpointError, match=r"best_v2\.pt.*never guesses"):
        list_checkpoints(tmp_path)
    (tmp_path / "best_v2.pt").unlink()
    _save_chain(tmp_path / "final_5.pt")  # a bare number, named unlike the others
    with pytest.raises(CheckpointError, match=r"final_5\.pt"):
        list_checkpoints(tmp_path)
    (tmp_path / "final_5.pt").unlink()
    for s in (20, 40):
        _save_chain(tmp_path / f"ckpt_{s}.pt")
    with pytest.raises(CheckpointError, match=r"ckpt_20\.pt, ckpt_40\.pt"):
        list_checkpoints(tmp_path)  # two naming schemes: the minority is named
    other = tmp_path / "other"
    other.mkdir()
    for s in (0, 20, 40):
        _save_chain(other / f"ckpt_{s}.pt")
    assert [s for s, _ in list_checkpoints(other)] == [0, 20, 40]
    with pytest.raises(CheckpointError, match=r"cannot tell the training step of final\.pt: .*Name it"):
        _save_chain(other / "final.pt")
        list_checkpoints(other / "final.pt")


def test_steps_file_header_after_comments_and_zip_archives(tmp_path):
    _save_chain(tmp_path / "a.pt")
    (tmp_path / "steps.csv").write_text("# my run\nfile,step\na.pt,7\n")
    assert [s for s, _ in list_checkpoints(tmp_path, steps_from=tmp_path / "steps.csv")] == [7]
    np.savez(tmp_path / "arrays.npz", x=np.zeros(3))
    (tmp_path / "arrays.pt").write_bytes((tmp_path / "arrays.npz").read_bytes())
    with pytest.raises(CheckpointError, match="a zip archive"):
        load_checkpoint(tmp_path / "arrays.pt")


def test_two_files_with_one_step_are_named(tmp_path):
    _save_chain(tmp_path / "ckpt_step100.pt")
    _save_chain(tmp_path / "step_100.pt")
    with pytest.raises(CheckpointError, match=r"ckpt_step100\.pt and step_100\.pt both have step 100"):
        list_checkpoints(tmp_path)


def test_a_single_checkpoint_file_is_accepted(tmp_path):
    _save_chain(tmp_path / "step_40.pt")
    assert [s for s, _ in list_checkpoints(tmp_path / "step_40.pt")] == [40]


# ---------------------------------------------------------------------------------------------- loading
@pytest.mark.parametrize("wrap", ["state_dict", "model_state_dict", "model", "net", "network"])
def test_nested_state_dicts_are_unwrapped(tmp_path, wrap):
    """Item 9: {"net": sd} used to be refused as 'not tensors'."""
    net = mlp([4, 3, 2], rng=0)
    torch.save({wrap: net.state_dict(), "epoch": 7, "optimizer": {"state": {}, "param_groups": []}},
               tmp_path / "c.pt")
    assert set(load_checkpoint(tmp_path / "c.pt")) == set(net.state_dict())


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /dev/null",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_unreadable_files_get_one_message_without_unsafe_advice(tmp_path):
    """Item 8: no traceback, no advice to load with weights_only=False, no '(101)'."""
    (tmp_path / "notes.pt").write_text("these are my notes\n")
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"0.weight": _Evil()}))
    buf = io.BytesIO()
    torch.save(nn.Linear(2, 2), buf)  # a pickled module, as people sometimes save
    (tmp_path / "module.pt").write_bytes(buf.getvalue())
    torch.save(torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1).state_dict(), tmp_path / "opt.pt")
    torch.save({"a": {"w": torch.zeros(2)}, "b": {"w": torch.zeros(2)}}, tmp_path / "two.pt")
    expected = {"notes.pt": "not a PyTorch checkpoint", "empty.pt": "is empty", "evil.pkl": "never unpickles",
                "module.pt": "never unpickles", "opt.pt": "optimizer's state", "two.pt": "several state dicts"}
    for name, what in expected.items():
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(tmp_path / name)
        msg = str(info.value)
        assert what in msg and "weights_only=False" not in msg and "(101)" not in msg, msg
        assert len(msg.replace(str(tmp_path), "")) < 300 and "\n" not in msg, msg
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="folder"):
        load_checkpoint(tmp_path)


# ---------------------------------------------------------------------------------------------- layer order
def test_sorted_keys_of_a_deep_chain_are_ordered_by_module_index(tmp_path):
    """Item 4: sorted keys (safetensors, any sorted dict) of >= 11 layers used to be mapped as 0, 1, 10, 11, 2, ..."""
    from safetensors.torch import save_file

    widths = [9, 8, 7, 6, 5, 8, 7, 6, 5, 8, 7, 6, 4]  # 12 Linear layers of different shapes
    net = mlp(widths, rng=3)
    sd = dict(sorted(net.state_dict().items()))  # "0.", "10.", "12.", ...: text order
    save_file({k: v.contiguous() for k, v in sd.items()}, str(tmp_path / "net.safetensors"))
    for source in (sd, str(tmp_path / "net.safetensors")):
        m = to_spins(source)
        assert m.widths == tuple(widths)
        assert (m.model.csr() != to_spins(net).model.csr()).nnz == 0
    # equal widths: the shapes chain in any order, only the index order is right
    eq = mlp([6] * 13, rng=4)
    assert _tc(dict(sorted(eq.state_dict().items()))) == pytest.approx(_tc(eq), rel=1e-9)
    shuffled = [eq[2 * i].weight for i in (0, 1, 5, 6, 2, 3, 4, 7, 8, 9, 10, 11)]
    assert abs(_tc(shuffled) - _tc(eq)) > 1e-6  # the order matters: a wrong order is a different number


class _ResMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(8, 6)
        self.block = nn.Linear(6, 6)
        self.out = nn.Linear(6, 3)

    def forward(self, x):
        h = F.relu(self.inp(x))
        h = h + F.relu(self.block(h))
        return self.out(h)


class _Declared(nn.Module):
    """Declared in one order, run in another."""

    def __init__(self):
        super().__init__()
        self.last = nn.Linear(5, 3)
        self.first = nn.Linear(7, 5)

    def forward(self, x):
        return self.last(torch.tanh(self.first(x.flatten(1))))


def test_state_dicts_that_cannot_show_a_chain_need_the_module():
    """Item 5: a residual MLP's state dict used to give 'spin glass, T_c = ...' and exit 0."""
    with pytest.raises(ValueError, match=r"does not show the forward pass.*Pass the module"):
        to_spins(_ResMLP().state_dict())
    with pytest.raises(ValueError, match="skip connection"):
        to_spins(_ResMLP())
    emb = {"emb.weight": torch.zeros(100, 4), "fc.weight": torch.zeros(2, 4)}
    with pytest.raises(ValueError, match="does not show the forward pass"):
        to_spins(emb)  # item 10: used to say 'previous Linear layer has 100 outputs'
    with pytest.raises(ValueError, match=r"not a chain of Linear layers.*Embedding.*--model"):
        to_spins(nn.Sequential(nn.Embedding(100, 16), nn.Linear(16, 4)).state_dict())
    blocks = {"layers.0.weight": torch.zeros(6, 6), "layers.1.weight": torch.zeros(6, 6)}  # a ModuleList
    with pytest.raises(ValueError, match="only the keys of an nn.Sequential itself"):
        to_spins(blocks)
    with pytest.raises(ValueError, match=r"Embedding\) is not supported"):
        to_spins(nn.Sequential(nn.Embedding(100, 4), nn.Linear(4, 2)))
    with pytest.raises(ValueError, match="Softmax.*only at the output"):
        to_spins(nn.Sequential(nn.Linear(4, 4), nn.Softmax(1), nn.Linear(4, 2)))


def test_a_module_is_read_in_forward_order_and_says_what_was_assumed():
    """Item 5: declaration order was taken for forward order; item 9: nn.Module MLPs were refused."""
    net = _Declared()
    m = to_spins(net)
    assert m.widths == (7, 5, 3) and m.layer_names == ("input", "first", "last")
    np.testing.assert_array_equal(m.weights[0], net.first.weight.detach().double().numpy())
    assert any("traced" in n for n in m.notes)
    seq = mlp([4, 3, 2], rng=0)
    assert to_spins(seq).notes == ()
    assert any("does not record the forward pass" in n for n in to_spins(seq.state_dict()).notes)


def test_refusals_are_short_and_say_what_to_do():
    """Item 10: no 300-character list of layers; one or two sentences with a way forward."""
    for bad in (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2)), _ResMLP().state_dict(),
                {"0.weight": torch.zeros(2, 1, 3, 3)}):
        with pytest.raises(ValueError) as info:
            to_spins(bad)
        assert len(str(info.value)) < 330, str(info.value)
    with pytest.raises(ValueError, match="empty X"):
        class_alignment(np.zeros(4), np.zeros((0, 4)), np.zeros(0))
