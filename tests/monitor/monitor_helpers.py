"""A tiny network, its data and one training loop that the monitor tests share (plain loop, Lightning, scripts)."""
from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

N_SAMPLES = 512
BATCH = 64
LR = 0.1
MOMENTUM = 0.9

#: The builder of the tiny network as a user's file (for ``spinlens phases --model tiny_model.py:build``).
MODEL_FILE = textwrap.dedent('''
    import torch.nn as nn


    def build():
        return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
''')


def build(seed: int = 0) -> nn.Module:
    """64-32-10 ReLU MLP (106 spins), initialised from ``seed``."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def data() -> tuple[torch.Tensor, torch.Tensor]:
    from spinlens.data import load_dataset

    ds = load_dataset("digits", n_samples=N_SAMPLES)
    return torch.tensor(ds.X, dtype=torch.float32), torch.tensor(ds.y)


def loader(X: torch.Tensor, y: torch.Tensor) -> Any:
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=BATCH, shuffle=False)


def plain_loop(mon: Any, steps: int, snapshots: dict[int, dict[str, torch.Tensor]] | None = None) -> nn.Module:
    """Train :func:`build` with SGD on the digits in a fixed order, calling ``mon.step`` as the docs say: once with
    step 0 (and the first batch) before training, then after every optimizer step with the batch it used.
    ``snapshots`` collects the weights at every step the monitor checkpointed."""
    X, y = data()
    net = build()
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    batches = [b for _ in range(math.ceil(steps * BATCH / N_SAMPLES)) for b in loader(X, y)][:steps]
    if mon.step(net, 0, batch=batches[0], optimizer=opt) and snapshots is not None:
        snapshots[0] = {k: v.clone() for k, v in net.state_dict().items()}
    for t, (xb, yb) in enumerate(batches, start=1):
        opt.zero_grad()
        F.cross_entropy(net(xb), yb).backward()
        opt.step()
        if mon.step(net, t, batch=(xb, yb), optimizer=opt) and snapshots is not None:
            snapshots[t] = {k: v.clone() for k, v in net.state_dict().items()}
    return net


#: Fields of a record's TAP evidence that change sign with the global spin flip m -> -m (a symmetry of H without
#: fields: the solution found from a start near the paramagnet may be either).
_FLIP_ODD = ("m_layers", "class_alignment")


def assert_close_records(a: Any, b: Any, rtol: float = 1e-6, atol: float = 1e-9, where: str = "record") -> None:
    """Equal records: the same keys, strings, ints, booleans and list lengths; floats to ``rtol``/``atol`` (the
    sparse eigen-solves agree to rounding, ~1e-11, not bit for bit: BLAS results depend on memory alignment); the
    TAP solution up to the global flip (rounding in its temperature can pick -m instead of m)."""
    if isinstance(a, dict) and where.endswith(".tap") and isinstance(b, dict) and a.get("m_layers"):
        k = int(np.argmax(np.abs(a["m_layers"])))
        if np.sign(a["m_layers"][k]) == -np.sign(b["m_layers"][k]):
            b = {key: [-x for x in v] if key in _FLIP_ODD and isinstance(v, list) else v for key, v in b.items()}
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys {sorted(set(a) ^ set(b))} differ"
        for k in a:
            assert_close_records(a[k], b[k], rtol, atol, f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{where}: lengths {len(a)} != {len(b)}"
        for i, (x, z) in enumerate(zip(a, b, strict=True)):
            assert_close_records(x, z, rtol, atol, f"{where}[{i}]")
    elif isinstance(a, float) and not isinstance(a, bool):
        assert isinstance(b, (int, float)) and not isinstance(b, bool), f"{where}: {a!r} vs {b!r}"
        assert np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True), f"{where}: {a!r} vs {b!r}"
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"
