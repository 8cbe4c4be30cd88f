"""LightningPhaseMonitor: the same results as the plain loop (same model, seeds and batches), refusal before the first
optimizer step, and a fit resumed from its own checkpoint continuing the monitored run."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from spinlens.monitor import PhaseMonitor
from spinlens.networks.checkpoints import load_checkpoint
from tests.monitor.monitor_helpers import LR, MOMENTUM, assert_close_records, build, data, loader, plain_loop

L = pytest.importorskip("lightning")
pytest.importorskip("tensorboard")

STEPS = 24
OPTIONS = dict(n_points=6, n_starts=2, tap_checkpoints=2, null_models=False, seed=1, loss_fn=F.cross_entropy,
               hessian_matvec=9, hessian_iter=20, executor="serial")


class LitTiny(L.LightningModule):
    def __init__(self, net: nn.Module | None = None) -> None:
        super().__init__()
        self.net = net if net is not None else build()

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=LR, momentum=MOMENTUM)


def _trainer(steps: int, callbacks: list, **kw):
    return L.Trainer(max_steps=steps, callbacks=callbacks, logger=False, enable_checkpointing=bool(kw.pop("ckpt", 0)),
                     enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=1, **kw)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    out = tmp_path_factory.mktemp("plain") / "run"
    mon = PhaseMonitor(out, total_steps=STEPS, **OPTIONS)
    plain_loop(mon, STEPS)
    mon.close(report=False)
    return out, mon


def test_lightning_run_gives_the_plain_loops_results(plain, tmp_path):
    from spinlens.monitor import LightningPhaseMonitor

    out_plain, mon_plain = plain
    X, y = data()
    cb = LightningPhaseMonitor(tmp_path / "lit", module="net", **OPTIONS)
    _trainer(STEPS, [cb]).fit(LitTiny(), loader(X, y))
    mon = cb.monitor
    assert mon.schedule == mon_plain.schedule and cb.result is not None
    for name in (f"step_{s:08d}.pt" for s in mon.schedule):  # the same weights, bit for bit
        a = load_checkpoint(out_plain / "checkpoints" / name)
        b = load_checkpoint(tmp_path / "lit" / "checkpoints" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    lit = json.loads((tmp_path / "lit" / "checkpoints_analysis.json").read_text())
    assert [r["step"] for r in lit] == [r["step"] for r in mon_plain.records] == mon.schedule
    for a, b in zip(mon_plain.records, lit, strict=True):
        assert_close_records(a, b, where=f"step {a['step']}")
    hp, hl = mon_plain.hessian_records, mon.hessian_records
    assert len(hp) == len(hl) == len(mon.schedule)
    for a, b in zip(hp, hl, strict=True):
        assert_close_records(a, b, where=f"hessian step {a['step']}")
        assert b["lr"] == LR and b["momentum"] == MOMENTUM  # read from the trainer's optimizer


def test_whole_lightning_module_is_monitored_by_default(plain, tmp_path, monkeypatch, capsys):
    """Without module=, the LightningModule's own forward is mapped; its checkpoints carry the 'net.' prefix, which
    spinlens phases --model strips, and the numbers are the plain loop's."""
    from spinlens.monitor import LightningPhaseMonitor
    from tests.cli_helpers import run_main
    from tests.monitor.monitor_helpers import MODEL_FILE

    _, mon_plain = plain
    X, y = data()
    opts = {**OPTIONS, "loss_fn": None}
    cb = LightningPhaseMonitor(tmp_path / "lit", report=False, **opts)
    _trainer(STEPS, [cb]).fit(LitTiny(), loader(X, y))
    assert set(load_checkpoint(tmp_path / "lit" / "checkpoints" / "step_00000000.pt")) == {
        "net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"}
    recs = cb.monitor.records
    for a, b in zip(mon_plain.records, recs, strict=True):
        assert a["phase"] == b["phase"] and a["t_c"] == pytest.approx(b["t_c"], rel=1e-7, nan_ok=True)
    (tmp_path / "tiny_model.py").write_text(MODEL_FILE)
    monkeypatch.chdir(tmp_path)
    code, text = run_main(["phases", "--checkpoints", str(tmp_path / "lit" / "checkpoints"), "--model",
                           "tiny_model.py:build", "--n-starts", "0", "--no-null-models", "--out", str(tmp_path / "cli"),
                           "--workers", "1"], capsys)
    assert code == 0, text
    cli = json.loads((tmp_path / "cli" / "checkpoints_analysis.json").read_text())
    assert [r["phase"] for r in cli] == [r["phase"] for r in recs]


def test_unsupported_network_stops_the_fit_before_its_first_optimizer_step(tmp_path):
    from spinlens.monitor import LightningPhaseMonitor

    X, y = data()
    net = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(32, 10))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    lit = LitTiny(net)
    trainer = _trainer(STEPS, [LightningPhaseMonitor(tmp_path / "lit", n_points=4)])
    with pytest.raises(ValueError, match="MaxPool2d"):
        trainer.fit(lit, loader(X, y))
    assert trainer.global_step == 0 and all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
    assert not (tmp_path / "lit").exists()


class _StopAt(L.Callback):
    """Interrupts the fit at the start of the batch after ``step`` (an epoch boundary), as a crash would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            raise RuntimeError("interrupted")


def test_fit_resumed_from_its_checkpoint_continues_the_monitor(plain, tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    from spinlens.monitor import LightningPhaseMonitor

    _, mon_plain = plain
    X, y = data()
    opts = {**OPTIONS, "loss_fn": None}
    ck = ModelCheckpoint(dirpath=tmp_path / "ck", every_n_train_steps=8, save_top_k=-1)
    cb = LightningPhaseMonitor(tmp_path / "lit", module="net", report=False, **opts)
    with pytest.raises(RuntimeError, match="interrupted"):
        _trainer(STEPS, [cb, _StopAt(16), ck], ckpt=True).fit(LitTiny(), loader(X, y))
    units = tmp_path / "lit" / "analysis" / "units"
    before = {p.name: p.read_bytes() for p in units.glob("step_*.json")}
    assert before and all(int(n[5:13]) <= 16 for n in before)
    cb2 = LightningPhaseMonitor(tmp_path / "lit", module="net", **opts)
    ck2 = ModelCheckpoint(dirpath=tmp_path / "ck", every_n_train_steps=8, save_top_k=-1)
    _trainer(STEPS, [cb2, ck2], ckpt=True).fit(LitTiny(), loader(X, y), ckpt_path=str(tmp_path / "ck" /
                                                                                       "epoch=1-step=16.ckpt"))
    after = {p.name: p.read_bytes() for p in units.glob("step_*.json")}
    assert all(after[n] == b for n, b in before.items())  # finished analyses were not redone
    assert sorted(int(n[5:13]) for n in after) == cb2.monitor.schedule
    recs = json.loads((tmp_path / "lit" / "checkpoints_analysis.json").read_text())
    for a, b in zip(mon_plain.records, recs, strict=True):  # resumed at an epoch boundary: the plain loop's weights
        assert a["phase"] == b["phase"] and a["t_c"] == pytest.approx(b["t_c"], rel=1e-7, nan_ok=True)
