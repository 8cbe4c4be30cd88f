r"""Elementwise activations with their first two derivatives, for mean-field signal propagation.

A named activation carries closed-form derivatives; any other callable (a NumPy ufunc-like
function or a torch function such as ``torch.nn.functional.silu``) is wrapped: its derivatives
come from torch autograd when it accepts tensors, else from central finite differences.

=========  =========================================  ==============================
name       :math:`\phi(x)`                            :math:`\phi'(x)`
=========  =========================================  ==============================
tanh       :math:`\tanh x`                            :math:`1-\tanh^2 x`
erf        :math:`\mathrm{erf}(x)` (slope 2/√π)       :math:`(2/\sqrt\pi) e^{-x^2}`
relu       :math:`\max(0,x)`                          :math:`\Theta(x)` (½ at 0)
gelu       :math:`x\Phi(x)` (exact, RYH convention)   :math:`\Phi(x)+x\varphi(x)`
swish      :math:`x/(1+e^{-x})` (SiLU)                :math:`s+xs(1-s)`
sigmoid    :math:`1/(1+e^{-x})`                       :math:`s(1-s)`
sin        :math:`\sin x`                             :math:`\cos x`
linear     :math:`x`                                  1
hard-tanh  :math:`\mathrm{clip}(x,-1,1)`              :math:`1_{|x|<1}`
sign       :math:`\mathrm{sign}(x)`                   0 almost everywhere (see note)
=========  =========================================  ==============================

Note on ``sign``: its correlation map :math:`(2/\pi)\arcsin c` has infinite slope at
:math:`c=1`, so :math:`\chi_1` is infinite; spinlens marks it ``chi1_infinite`` and reports
:math:`\chi_1=\infty` (always chaotic) instead of the meaningless a.e.-derivative value 0.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import erf as _erf
from scipy.special import expit as _expit
from scipy.special import ndtr as _ndtr

__all__ = ["Activation", "get_activation", "ACTIVATIONS"]

ArrayFn = Callable[[np.ndarray], np.ndarray]
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _gauss_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / _SQRT_2PI


@dataclass(frozen=True)
class Activation:
    r"""An activation ``phi`` with derivatives ``d1``, ``d2`` acting on float64 NumPy arrays.

    Attributes
    ----------
    name : short name (``"tanh"`` or the callable's ``__name__``).
    fn, d1, d2 : vectorised callables ``(...,) -> (...,)``.
    derivative_method : ``"closed-form"``, ``"autograd"`` or ``"finite-difference"``.
    chi1_infinite : True for discontinuous activations (``sign``): the slope of the correlation map at
        ``c = 1`` is infinite.
    pair_kernel : optional closed form of :math:`\mathbb E[\phi(u_1)\phi(u_2)]` as a function of ``(q, c)``,
        used by the correlation map instead of quadrature (set for ``sign``).
    moments : optional closed form ``q -> (E[phi^2], E[phi'^2], dE[phi^2]/dq)`` at :math:`u=\sqrt q z`, used
        instead of Gauss–Hermite (set for ``hard-tanh``, whose kinks at ±1 fall between the nodes).
    """

    name: str
    fn: ArrayFn
    d1: ArrayFn
    d2: ArrayFn
    derivative_method: str = "closed-form"
    chi1_infinite: bool = False
    pair_kernel: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = field(default=None, compare=False,
                                                                               repr=False)
    moments: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]] | None = field(
        default=None, compare=False, repr=False)
    torch_fn: Callable[..., Any] | None = field(default=None, compare=False, repr=False)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.fn(x)

    def torch(self) -> Callable[..., Any]:
        """The activation as a torch function (for simulations)."""
        if self.torch_fn is not None:
            return self.torch_fn
        import torch

        def _f(t: torch.Tensor) -> torch.Tensor:  # numpy round trip (no autograd)
            out = self.fn(t.detach().cpu().numpy().astype(np.float64))
            return torch.as_tensor(out, dtype=t.dtype, device=t.device)

        return _f


def _torch_named(name: str) -> Callable[..., Any]:
    import torch
    import torch.nn.functional as F

    table: dict[str, Callable[..., Any]] = {
        "tanh": torch.tanh,
        "erf": torch.erf,
        "relu": torch.relu,
        "gelu": lambda t: F.gelu(t, approximate="none"),
        "swish": F.silu,
        "sigmoid": torch.sigmoid,
        "sin": torch.sin,
        "linear": lambda t: t,
        "hard-tanh": lambda t: torch.clamp(t, -1.0, 1.0),
        "sign": torch.sign,
    }
    return table[name]


def _sign_kernel(q: np.ndarray, c: np.ndarray) -> np.ndarray:
    r""":math:`\mathbb E[\mathrm{sign}(u_1)\mathrm{sign}(u_2)] = (2/\pi)\arcsin c` (Sheppard), any q > 0."""
    return np.broadcast_to((2.0 / np.pi) * np.arcsin(np.clip(c, -1.0, 1.0)), np.broadcast_shapes(
        np.shape(q), np.shape(c))).copy()


def _hardtanh_moments(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Closed forms for :math:`\phi=\mathrm{clip}(x,-1,1)`, :math:`a=1/\sqrt q`, :math:`p=2\Phi(a)-1`:
    :math:`\mathbb E\phi^2=(1-p)+q(p-2a\varphi(a))`, :math:`\mathbb E\phi'^2=p`,
    :math:`\partial_q\mathbb E\phi^2=\mathbb E[\phi'^2+\phi\phi'']=p-2a\varphi(a)`."""
    q = np.asarray(q, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(q > 0, 1.0 / np.sqrt(np.where(q > 0, q, 1.0)), np.inf)
        p = 2.0 * _ndtr(a) - 1.0
        aphi = np.where(np.isfinite(a), a * _gauss_pdf(np.where(np.isfinite(a), a, 0.0)), 0.0)
    return (1.0 - p) + q * (p - 2.0 * aphi), p, p - 2.0 * aphi


def _named(name: str) -> Activation:
    if name == "tanh":
        def d1(x: np.ndarray) -> np.ndarray:
            return 1.0 - np.tanh(x) ** 2

        def d2(x: np.ndarray) -> np.ndarray:
            t = np.tanh(x)
            return -2.0 * t * (1.0 - t * t)

        return Activation(name, np.tanh, d1, d2)
    if name == "erf":
        c = 2.0 / math.sqrt(math.pi)
        return Activation(name, _erf, lambda x: c * np.exp(-x * x), lambda x: -2.0 * x * c * np.exp(-x * x))
    if name == "relu":
        return Activation(
            name,
            lambda x: np.maximum(x, 0.0),
            lambda x: np.where(x > 0, 1.0, np.where(x < 0, 0.0, 0.5)),
            lambda x: np.zeros_like(x),
        )
    if name == "gelu":
        return Activation(
            name,
            lambda x: x * _ndtr(x),
            lambda x: _ndtr(x) + x * _gauss_pdf(x),
            lambda x: _gauss_pdf(x) * (2.0 - x * x),
        )
    if name == "swish":
        def sw1(x: np.ndarray) -> np.ndarray:
            s = _expit(x)
            return s + x * s * (1.0 - s)

        def sw2(x: np.ndarray) -> np.ndarray:
            s = _expit(x)
            return s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))

        return Activation(name, lambda x: x * _expit(x), sw1, sw2)
    if name == "sigmoid":
        def sg1(x: np.ndarray) -> np.ndarray:
            s = _expit(x)
            return s * (1.0 - s)

        def sg2(x: np.ndarray) -> np.ndarray:
            s = _expit(x)
            return s * (1.0 - s) * (1.0 - 2.0 * s)

        return Activation(name, _expit, sg1, sg2)
    if name == "sin":
        return Activation(name, np.sin, np.cos, lambda x: -np.sin(x))
    if name == "linear":
        return Activation(name, lambda x: np.asarray(x, dtype=np.float64) * 1.0, np.ones_like, np.zeros_like)
    if name == "hard-tanh":
        return Activation(
            name,
            lambda x: np.clip(x, -1.0, 1.0),
            lambda x: (np.abs(x) < 1.0).astype(np.float64),
            np.zeros_like,
            moments=_hardtanh_moments,
        )
    if name == "sign":
        return Activation(name, np.sign, np.zeros_like, np.zeros_like, chi1_infinite=True,
                          pair_kernel=_sign_kernel)
    raise KeyError(name)


ACTIVATIONS = ("tanh", "erf", "relu", "gelu", "swish", "sigmoid", "sin", "linear", "hard-tanh", "sign")
_ALIASES = {"hardtanh": "hard-tanh", "hard_tanh": "hard-tanh", "silu": "swish", "identity": "linear"}


def _is_torch_callable(f: Callable[..., Any]) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    try:
        t = torch.linspace(-1.0, 1.0, 5, dtype=torch.float64, requires_grad=True)
        out = f(t)
        if not isinstance(out, torch.Tensor):
            return False
        if out.requires_grad:  # autograd must work too (np.tanh on a tensor returns one without a graph)
            torch.autograd.grad(out.sum(), t)
        else:
            return False
    except Exception:
        return False
    return True


def _wrap_callable(f: Callable[..., Any]) -> Activation:
    name = getattr(f, "__name__", type(f).__name__)
    if _is_torch_callable(f):
        import torch

        def fn(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return f(torch.as_tensor(np.asarray(x, dtype=np.float64))).numpy()

        def _derivs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            t = torch.as_tensor(np.asarray(x, dtype=np.float64)).clone().requires_grad_(True)
            y = f(t)
            (g1,) = torch.autograd.grad(y.sum(), t, create_graph=True)
            if g1.requires_grad:
                (g2,) = torch.autograd.grad(g1.sum(), t)
            else:
                g2 = torch.zeros_like(t)
            return g1.detach().numpy(), g2.detach().numpy()

        return Activation(
            name, fn, lambda x: _derivs(x)[0], lambda x: _derivs(x)[1], "autograd", torch_fn=f
        )

    def fnp(x: np.ndarray) -> np.ndarray:
        return np.asarray(f(np.asarray(x, dtype=np.float64)), dtype=np.float64)

    try:
        probe = fnp(np.linspace(-1.0, 1.0, 5))
    except Exception as exc:
        raise TypeError(
            f"activation {name!r} must accept a NumPy array or a torch tensor and act elementwise ({exc})."
        ) from exc
    if probe.shape != (5,):
        raise ValueError(f"activation {name!r} must act elementwise (shape in = shape out), got {probe.shape}.")
    h1, h2 = 1e-5, 1e-4

    def fd1(x: np.ndarray) -> np.ndarray:
        return (fnp(x + h1) - fnp(x - h1)) / (2.0 * h1)

    def fd2(x: np.ndarray) -> np.ndarray:
        return (fnp(x + h2) - 2.0 * fnp(x) + fnp(x - h2)) / (h2 * h2)

    return Activation(name, fnp, fd1, fd2, "finite-difference")


def get_activation(activation: str | Activation | Callable[..., Any]) -> Activation:
    """Resolve a name (see :data:`ACTIVATIONS`), an :class:`Activation`, or any elementwise callable."""
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        key = _ALIASES.get(activation.lower(), activation.lower())
        try:
            act = _named(key)
        except KeyError:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)} or pass a callable."
            ) from None
        return dataclasses.replace(act, torch_fn=_LazyTorch(key))
    if callable(activation):
        return _wrap_callable(activation)
    raise TypeError(f"activation must be a name or a callable, got {type(activation).__name__}.")


class _LazyTorch:
    """Picklable, lazily imported torch version of a named activation."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, t: Any) -> Any:
        return _torch_named(self.name)(t)
