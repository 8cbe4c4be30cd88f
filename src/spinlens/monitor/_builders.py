"""In-process registry of the architectures of monitored networks.

The phases pipeline (:mod:`spinlens.networks.experiment`) rebuilds the module of every checkpoint from a builder
named ``"module:function"`` (``ExperimentConfig.model_builder``). A monitored network is a live object with no
such name, so :class:`~spinlens.monitor.PhaseMonitor` registers its architecture here under
``"spinlens.monitor._builders:net_<digest>"``: the attribute ``net_<digest>`` of this module is a :class:`Builder`
(module-level ``__getattr__``) that returns a fresh copy of the network, whose weights the pipeline then replaces
by the checkpoint's. The digest is of the network's ``repr`` and parameter shapes, so another network is another
builder name (and another analysis).

The architecture travels as the bytes of a pickle (``cloudpickle`` where installed, which also carries classes
defined in ``__main__`` or a notebook by value) made by the training process itself from the user's own module:
it is never read from a file, unlike checkpoints (which stay ``weights_only``).
"""
from __future__ import annotations

import copy
import pickle
import threading
from typing import Any

__all__ = ["Builder", "register", "registered", "builder_spec", "PREFIX"]

#: ``model_builder`` strings of monitored networks start with this.
PREFIX = "spinlens.monitor._builders:"

_LOCK = threading.Lock()
_PAYLOADS: dict[str, bytes] = {}
_TEMPLATES: dict[str, Any] = {}


class Builder:
    """``builder() -> nn.Module``: a fresh copy of a registered network (unpickled, or deep-copied from the
    in-process template); the ``rng`` argument of spinlens' own builders is accepted and ignored."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, rng: Any = None) -> Any:
        with _LOCK:
            template = _TEMPLATES.get(self.name)
            payload = _PAYLOADS.get(self.name)
        if template is not None:
            return copy.deepcopy(template)
        if payload is None:
            raise ValueError(f"no monitored network {self.name!r} is registered in this process.")
        return pickle.loads(payload)  # noqa: S301 - bytes made by this training run from the user's own module

    def __repr__(self) -> str:
        return f"Builder({self.name!r})"


def register(name: str, payload: bytes | None = None, template: Any = None) -> str:
    """Register the network ``name`` from pickle bytes (``payload``) or an in-process ``template`` module (copied
    on every call); returns its ``model_builder`` string."""
    if not name.isidentifier() or not name.startswith("net_"):
        raise ValueError(f"builder names look like net_<hex digest>, got {name!r}.")
    if payload is None and template is None:
        raise ValueError("register needs the pickle bytes of the network or a template module.")
    with _LOCK:
        if payload is not None:
            _PAYLOADS[name] = bytes(payload)
        if template is not None:
            _TEMPLATES[name] = template
    return builder_spec(name)


def registered(name: str) -> bool:
    with _LOCK:
        return name in _PAYLOADS or name in _TEMPLATES


def builder_spec(name: str) -> str:
    """The ``ExperimentConfig.model_builder`` string of a registered network."""
    return PREFIX + name


def __getattr__(name: str) -> Builder:
    if name.startswith("net_") and registered(name):
        return Builder(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
