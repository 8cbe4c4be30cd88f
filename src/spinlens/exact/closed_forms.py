r"""Closed-form and transfer-matrix results that check the numerical solvers.

* :func:`chain_transfer_matrix` — 1D Ising chain (ring or open) by the 2×2 transfer matrix.
* :func:`onsager` — 2D square-lattice Ising model in the thermodynamic limit (Onsager 1944, Yang 1952).
* :func:`kaufman` — exact partition function of a finite periodic :math:`L_1\times L_2` lattice (Kaufman 1949).
* :func:`curie_weiss` — fully connected ferromagnet: exact finite-n sum over magnetisation sectors, and
  its :math:`n\to\infty` mean-field solution.
* :func:`sk_paramagnet` — Sherrington–Kirkpatrick paramagnet (Sherrington & Kirkpatrick 1975).
* :func:`layered_sk_tc` — spin-glass temperature of layered (multi-species) SK models.

Conventions as everywhere in spinlens: :math:`H = -\sum_{i<j} J_{ij} s_i s_j - \sum_i h_i s_i`,
:math:`P(s) \propto e^{-\beta H(s)}`, :math:`k_B = 1`.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import integrate, special

from spinlens.results import Result
from spinlens.spins.model import as_count, as_real, as_real_array

__all__ = [
    "ONSAGER_BETA_C",
    "ONSAGER_TC",
    "CurieWeissResult",
    "OnsagerResult",
    "SKParamagnetResult",
    "chain_transfer_matrix",
    "curie_weiss",
    "kaufman",
    "layered_sk_tc",
    "layered_sk_tc_equal",
    "onsager",
    "sk_paramagnet",
]

#: Critical inverse temperature of the square-lattice Ising model, :math:`\beta_c = \tfrac12\ln(1+\sqrt2)`.
ONSAGER_BETA_C: float = 0.5 * math.log(1.0 + math.sqrt(2.0))
#: Critical temperature :math:`T_c = 2/\ln(1+\sqrt2) \approx 2.2691853`.
ONSAGER_TC: float = 2.0 / math.log(1.0 + math.sqrt(2.0))


def _positive_beta(beta: Any, name: str = "beta") -> np.ndarray:
    if isinstance(beta, (bool, np.bool_)):
        raise ValueError(f"{name} must be a positive number or an array of them, got {beta!r}.")
    b = as_real_array(beta, name, finite=False)
    if not np.all(np.isfinite(b)) or np.any(b <= 0):
        raise ValueError(f"{name} must be finite and > 0 (inverse temperature), got {beta!r}.")
    return b


def _out(x: np.ndarray) -> Any:
    return float(x) if np.ndim(x) == 0 else x


# ---------------------------------------------------------------------------------------- 1D chain
def chain_transfer_matrix(n: int, beta: Any, J: float = 1.0, h: float = 0.0, periodic: bool = True) -> Any:
    r""":math:`\ln Z` of the 1D Ising chain :math:`H = -J\sum_i s_i s_{i+1} - h\sum_i s_i` by transfer matrix.

    With :math:`T_{ss'} = e^{\beta J s s' + \beta h (s+s')/2}`, eigenvalues
    :math:`\lambda_\pm = e^{\beta J}\cosh\beta h \pm \sqrt{e^{2\beta J}\sinh^2\beta h + e^{-2\beta J}}`:

    * ring (``periodic``): :math:`Z = \operatorname{Tr} T^n = \lambda_+^n + \lambda_-^n`;
    * open chain: :math:`Z = v^\top T^{n-1} v`, :math:`v_s = e^{\beta h s/2}`.

    Matches :func:`spinlens.spins.chain` (whose 2-site ring carries two bonds, as :math:`\operatorname{Tr}T^2`).

    Parameters
    ----------
    n : int, number of spins (>= 2 for a ring, >= 1 open).
    beta : float or array, > 0.
    J, h : coupling and uniform field (finite).

    Returns
    -------
    float or ndarray shaped like ``beta``: :math:`\ln Z`.
    """
    n = as_count(n, f"n (spins of the {'ring' if periodic else 'chain'})", minimum=2 if periodic else 1)
    J, h = as_real(J, "J"), as_real(h, "h")
    b = _positive_beta(beta)
    K, H = b * J, b * h
    # T / e^{|K| + |H|} keeps every entry <= 1
    shift = np.abs(K) + np.abs(H)
    T = np.empty(b.shape + (2, 2))
    T[..., 0, 0] = np.exp(K + H - shift)
    T[..., 1, 1] = np.exp(K - H - shift)
    T[..., 0, 1] = T[..., 1, 0] = np.exp(-K - shift)
    lam, vec = np.linalg.eigh(T)  # ascending: lam[..., 1] is the Perron root (> |lam[..., 0]|)
    lp, lm = lam[..., 1], lam[..., 0]
    r = lm / lp
    if periodic:
        log_z = n * (np.log(lp) + shift) + np.log1p(r**n)
    else:
        v = np.stack([np.exp(0.5 * H), np.exp(-0.5 * H)], axis=-1) * np.exp(-0.5 * np.abs(H))[..., None]
        c = np.einsum("...ik,...i->...k", vec, v) ** 2  # (u_k . v)^2
        log_z = (
            (n - 1) * (np.log(lp) + shift)
            + np.log(c[..., 1] + c[..., 0] * r ** (n - 1))
            + np.abs(H)
        )
    return _out(log_z)


# ---------------------------------------------------------------------------------------- Onsager
@dataclass(frozen=True, eq=False)
class OnsagerResult(Result):
    r"""Square-lattice Ising model (J = 1, h = 0) per spin in the thermodynamic limit.

    Attributes
    ----------
    beta, temperature : inverse temperature(s) and :math:`T = 1/\beta`.
    minus_beta_f : :math:`-\beta f = \lim \ln Z / N`.
    free_energy : :math:`f` per spin.
    energy : :math:`u` per spin.
    entropy : :math:`s = \beta u - \beta f` per spin.
    heat_capacity : :math:`c = -\beta^2\,du/d\beta` per spin (``inf`` at :math:`\beta_c`).
    magnetization : Yang's spontaneous magnetisation (0 for :math:`T \ge T_c`).
    """

    beta: Any
    temperature: Any
    minus_beta_f: Any
    free_energy: Any
    energy: Any
    entropy: Any
    heat_capacity: Any
    magnetization: Any


def _onsager_mbf(b: float) -> float:
    k = 2.0 * math.sinh(2 * b) / math.cosh(2 * b) ** 2
    k2 = min(k * k, 1.0)

    def integrand(t: float) -> float:
        return math.log(0.5 * (1.0 + math.sqrt(max(0.0, 1.0 - k2 * math.sin(t) ** 2))))

    half_pi = 0.5 * math.pi
    val, _ = integrate.quad(integrand, 0.0, half_pi, epsabs=1e-14, epsrel=1e-13, limit=200, points=[half_pi])
    return math.log(2.0 * math.cosh(2 * b)) + val / math.pi


def onsager(beta: Any) -> OnsagerResult:
    r"""Onsager's solution of the square-lattice Ising model (J = 1, zero field, per spin).

    Free energy (Onsager 1944), with :math:`k = 2\sinh 2\beta/\cosh^2 2\beta`:

    .. math:: -\beta f = \ln(2\cosh 2\beta) + \frac1\pi\int_0^{\pi/2}
              \ln\tfrac12\Big(1 + \sqrt{1 - k^2\sin^2\theta}\Big)\,d\theta ,

    equal to :math:`\ln 2 + \frac{1}{8\pi^2}\iint\ln[\cosh^2 2\beta - \sinh 2\beta(\cos\theta_1+\cos\theta_2)]`.
    Energy :math:`u = -\coth 2\beta\,[1 + \frac2\pi(2\tanh^2 2\beta - 1)K(k)]` (K the complete elliptic
    integral of the first kind, modulus k); heat capacity :math:`c = -\beta^2\,du/d\beta` by the chain rule
    (:math:`dK/dk = E/(k(1-k^2)) - K/k`), logarithmically divergent at :math:`\beta_c`;
    spontaneous magnetisation (Yang 1952) :math:`m = (1 - \sinh^{-4} 2\beta)^{1/8}` for :math:`\beta > \beta_c`.

    Parameters
    ----------
    beta : float or array, > 0.
    """
    b = _positive_beta(beta)
    flat = np.atleast_1d(b).ravel()
    mbf = np.array([_onsager_mbf(float(x)) for x in flat]).reshape(b.shape)
    t2 = np.tanh(2 * b) ** 2
    k = np.minimum(2.0 * np.sinh(2 * b) / np.cosh(2 * b) ** 2, 1.0)
    Kk = special.ellipk(k * k)
    Ek = special.ellipe(k * k)
    crit = np.isclose(b, ONSAGER_BETA_C, rtol=0.0, atol=1e-15) | ~np.isfinite(Kk)
    with np.errstate(invalid="ignore", divide="ignore"):
        term = np.where(crit, 0.0, (2 * t2 - 1) * np.where(crit, 0.0, Kk))
        u = -1.0 / np.tanh(2 * b) * (1.0 + 2.0 / np.pi * term)
        # c = -beta^2 du/dbeta by the chain rule: with t = tanh 2b, g = 2t^2 - 1,
        # dk/db = -4 sech(2b) g, dK/dk = E/(k(1-k^2)) - K/k, dg/db = 8 t sech^2(2b)
        sech = 1.0 / np.cosh(2 * b)
        t = np.tanh(2 * b)
        g = 2 * t * t - 1
        dKdk = Ek / (k * (1 - k * k)) - Kk / k
        dudb = 2.0 / np.sinh(2 * b) ** 2 * (1.0 + 2.0 / np.pi * g * Kk) - (1.0 / t) * (2.0 / np.pi) * (
            8 * t * sech**2 * Kk + g * dKdk * (-4 * sech * g)
        )
        c = -(b**2) * dudb
    c = np.where(crit, np.inf, c)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where(b > ONSAGER_BETA_C, np.clip(1.0 - np.sinh(2 * b) ** -4.0, 0.0, None) ** 0.125, 0.0)
    return OnsagerResult(
        beta=_out(b),
        temperature=_out(1.0 / b),
        minus_beta_f=_out(mbf),
        free_energy=_out(-mbf / b),
        energy=_out(u),
        entropy=_out(mbf + b * u),
        heat_capacity=_out(c),
        magnetization=_out(mag),
    )


# ---------------------------------------------------------------------------------------- Kaufman
def _log_abs_sign_2cosh(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ax = np.abs(x)
    return ax + np.log1p(np.exp(-2 * ax)), np.ones_like(x)


def _log_abs_sign_2sinh(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ax = np.abs(x)
    with np.errstate(divide="ignore"):
        la = ax + np.log(-np.expm1(-2 * ax))  # -inf at x == 0
    return la, np.sign(x)


def kaufman(L: int | Sequence[int], beta: Any, J: float = 1.0) -> Any:
    r"""Exact :math:`\ln Z` of the zero-field Ising model on a periodic :math:`L_1 \times L_2` square lattice.

    Kaufman (1949), Phys. Rev. 76, 1232; with :math:`K = \beta J`, :math:`\tanh K^* = e^{-2K}`
    and :math:`(m, n) = (L_1, L_2)`:

    .. math::

        Z = \tfrac12 (2\sinh 2K)^{mn/2} \Big[\prod_{r=1}^{n} 2\cosh\tfrac m2\gamma_{2r-1}
            + \prod_{r=1}^{n} 2\sinh\tfrac m2\gamma_{2r-1}
            + \prod_{r=1}^{n} 2\cosh\tfrac m2\gamma_{2r}
            + \prod_{r=1}^{n} 2\sinh\tfrac m2\gamma_{2r}\Big],

    :math:`\cosh\gamma_j = \cosh 2K^*\cosh 2K - \sinh 2K^*\sinh 2K\cos(\pi j/n)` (:math:`\gamma_j>0`), except
    :math:`\gamma_{2n} \equiv \gamma_0 = 2(K - K^*)`, whose sign changes at :math:`T_c` (the fourth product is
    negative above :math:`T_c`). The sum is evaluated in log space with signs.
    Matches :func:`spinlens.spins.hypercubic_lattice` ``((L1, L2))`` for all :math:`L_1, L_2 \ge 2` (a side of 2
    carries two bonds between each pair, as the torus does).

    Parameters
    ----------
    L : int or (L1, L2)
        Side of a square torus, or the two sides of a rectangular one (each >= 2).
    beta : float or array, > 0.
    J : float, > 0, the ferromagnetic coupling.

    Returns
    -------
    float or ndarray shaped like ``beta``: :math:`\ln Z`.
    """
    if isinstance(L, (list, tuple, np.ndarray)):
        if len(L) != 2:
            raise ValueError(f"L must be an int or a pair (L1, L2), got {L!r}.")
        m, n = (as_count(x, "L (lattice side)") for x in L)
    else:
        m = n = as_count(L, "L (lattice side)")
    if m < 2 or n < 2:
        raise ValueError(f"lattice sides L must be >= 2, got {m}x{n}.")
    J = as_real(J, "J (the ferromagnetic coupling)", low=0.0, low_open=True)
    b = _positive_beta(beta)
    K = np.atleast_1d(b * J).astype(np.float64)[:, None]  # (B, 1)
    Kstar = -0.5 * np.log(np.tanh(K))
    j = np.arange(1, 2 * n + 1, dtype=np.float64)[None, :]  # 1 .. 2n
    c = np.cosh(2 * Kstar) * np.cosh(2 * K) - np.sinh(2 * Kstar) * np.sinh(2 * K) * np.cos(np.pi * j / n)
    gamma = np.arccosh(np.maximum(c, 1.0))
    gamma[:, -1] = 2.0 * (K[:, 0] - Kstar[:, 0])  # gamma_0 = gamma_{2n}, signed
    odd, even = gamma[:, 0::2], gamma[:, 1::2]  # gamma_{2r-1}, gamma_{2r}, r = 1..n
    logs, signs = [], []
    for g in (odd, even):
        lc, sc = _log_abs_sign_2cosh(0.5 * m * g)
        ls, ss = _log_abs_sign_2sinh(0.5 * m * g)
        logs += [lc.sum(axis=1), ls.sum(axis=1)]
        signs += [sc.prod(axis=1), ss.prod(axis=1)]
    A = np.stack(logs, axis=1)  # (B, 4)
    S = np.stack(signs, axis=1)
    amax = A.max(axis=1, keepdims=True)
    total = (S * np.exp(A - amax)).sum(axis=1)
    log_z = np.log(0.5) + 0.5 * m * n * np.log(2 * np.sinh(2 * K[:, 0])) + amax[:, 0] + np.log(total)
    return _out(log_z.reshape(b.shape))


# ---------------------------------------------------------------------------------------- Curie-Weiss
@dataclass(frozen=True, eq=False)
class CurieWeissResult(Result):
    r"""Curie–Weiss model :math:`H = -(J/n)\sum_{i<j}s_is_j - h\sum_i s_i`, per-spin quantities.

    ``n_spins = 0`` marks the :math:`n\to\infty` mean-field solution (then ``log_z`` is NaN).

    Attributes
    ----------
    beta, n_spins, J, h : the inputs.
    log_z : total :math:`\ln Z` (finite n).
    minus_beta_f : :math:`\ln Z / n` (finite n) or :math:`-\beta f` (n → ∞).
    free_energy, energy, entropy, heat_capacity : per spin.
    m : :math:`\langle M\rangle / n`, :math:`M = \sum_i s_i`; the stable mean-field root for n → ∞
        (the positive one at h = 0 below :math:`T_c = J`).
    m_abs : :math:`\langle |M|\rangle / n` (n → ∞: :math:`|m|`).
    m2 : :math:`\langle M^2\rangle / n^2` (n → ∞: :math:`m^2`).
    """

    beta: Any
    n_spins: int
    J: float
    h: float
    log_z: Any
    minus_beta_f: Any
    free_energy: Any
    energy: Any
    entropy: Any
    heat_capacity: Any
    m: Any
    m_abs: Any
    m2: Any


def _cw_mean_field_m(b: float, J: float, h: float) -> float:
    # stable root of m = tanh(b (J m + h)): iterate from the side of the field (or +1 at h = 0)
    m = 1.0 if h >= 0 else -1.0
    for _ in range(100000):
        new = math.tanh(b * (J * m + h))
        if abs(new - m) < 1e-15:
            m = new
            break
        m = new
    # polish with Newton on g(m) = m - tanh(b(Jm+h))
    for _ in range(50):
        t = math.tanh(b * (J * m + h))
        g = m - t
        dg = 1.0 - b * J * (1 - t * t)
        if dg == 0 or abs(g) < 1e-16:
            break
        step = g / dg
        if abs(step) > 1e-3:
            break
        m -= step
    return m


def curie_weiss(n: int | None, beta: Any, J: float = 1.0, h: float = 0.0) -> CurieWeissResult:
    r"""Curie–Weiss model, exact at finite ``n`` or its mean-field limit (``n=None``).

    Finite n: with :math:`M = n - 2k` (k spins down), :math:`H = -\frac{J}{2n}(M^2 - n) - hM` and

    .. math:: Z = \sum_{k=0}^{n} \binom nk e^{-\beta H(M)} ,

    summed in log space; moments of :math:`M` and :math:`H` follow from the same weights.
    Matches :func:`spinlens.spins.curie_weiss` ``(n, J, h)``.

    n → ∞: :math:`m = \tanh\beta(Jm + h)` (stable root),
    :math:`-\beta f = -\beta J m^2/2 + \ln 2\cosh\beta(Jm+h)`, :math:`u = -Jm^2/2 - hm`,
    :math:`c = \beta^2 (Jm+h)^2(1-m^2)/[1 - \beta J(1-m^2)]`; :math:`T_c = J`.

    Parameters
    ----------
    n : int >= 1, or None for the thermodynamic limit.
    beta : float or array, > 0.
    J, h : finite coupling and field.
    """
    J, h = as_real(J, "J"), as_real(h, "h")
    b = _positive_beta(beta)
    flat = np.atleast_1d(b).ravel()
    if n is None:
        ms = np.array([_cw_mean_field_m(float(x), J, h) for x in flat])
        x = flat * (J * ms + h)
        # ln 2cosh x = |x| + ln(1 + e^{-2|x|})
        mbf = -flat * J * ms**2 / 2 + np.abs(x) + np.log1p(np.exp(-2 * np.abs(x)))
        u = -J * ms**2 / 2 - h * ms
        with np.errstate(divide="ignore", invalid="ignore"):
            c = flat**2 * (J * ms + h) ** 2 * (1 - ms**2) / (1 - flat * J * (1 - ms**2))
        shape = b.shape
        return CurieWeissResult(
            beta=_out(b),
            n_spins=0,
            J=float(J),
            h=float(h),
            log_z=float("nan"),
            minus_beta_f=_out(mbf.reshape(shape)),
            free_energy=_out((-mbf / flat).reshape(shape)),
            energy=_out(u.reshape(shape)),
            entropy=_out((mbf + flat * u).reshape(shape)),
            heat_capacity=_out(c.reshape(shape)),
            m=_out(ms.reshape(shape)),
            m_abs=_out(np.abs(ms).reshape(shape)),
            m2=_out((ms**2).reshape(shape)),
        )
    n = as_count(n, "n (number of spins, or None for n -> infinity)", minimum=1)
    k = np.arange(n + 1)
    M = (n - 2 * k).astype(np.float64)
    E = -J / (2 * n) * (M**2 - n) - h * M
    logdeg = special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)
    a = logdeg[None, :] - flat[:, None] * E[None, :]
    amax = a.max(axis=1, keepdims=True)
    w = np.exp(a - amax)
    Z = w.sum(axis=1)
    log_z = np.log(Z) + amax[:, 0]
    U = (w @ E) / Z
    var = np.clip((w @ E**2) / Z - U**2, 0.0, None)
    mM = (w @ M) / Z
    shape = b.shape
    per = 1.0 / n
    return CurieWeissResult(
        beta=_out(b),
        n_spins=n,
        J=float(J),
        h=float(h),
        log_z=_out(log_z.reshape(shape)),
        minus_beta_f=_out((log_z * per).reshape(shape)),
        free_energy=_out((-log_z / flat * per).reshape(shape)),
        energy=_out((U * per).reshape(shape)),
        entropy=_out(((log_z + flat * U) * per).reshape(shape)),
        heat_capacity=_out((flat**2 * var * per).reshape(shape)),
        m=_out((mM * per).reshape(shape)),
        m_abs=_out(((w @ np.abs(M)) / Z * per).reshape(shape)),
        m2=_out(((w @ M**2) / Z * per * per).reshape(shape)),
    )


# ---------------------------------------------------------------------------------------- SK
@dataclass(frozen=True, eq=False)
class SKParamagnetResult(Result):
    r"""Annealed (= quenched for :math:`T > 1`) SK paramagnet, per spin, :math:`n\to\infty`."""

    beta: Any
    J: float
    minus_beta_f: Any
    free_energy: Any
    energy: Any
    entropy: Any
    heat_capacity: Any


def sk_paramagnet(beta: Any, J: float = 1.0, J0: float = 0.0) -> SKParamagnetResult:
    r"""Sherrington–Kirkpatrick paramagnet, :math:`J_{ij}\sim\mathcal N(J_0/N, J^2/N)`, per spin.

    .. math:: -\beta f = \ln 2 + \frac{\beta^2 J^2}{4},\quad u = -\frac{\beta J^2}2,\quad
              s = \ln 2 - \frac{\beta^2J^2}4,\quad c = \frac{\beta^2J^2}2 ,

    (Sherrington & Kirkpatrick 1975), the equilibrium state for :math:`T > \max(J, J_0)`. Below it
    the paramagnet is not the equilibrium (spin glass or ferromagnet; its entropy even turns
    negative for :math:`T < J/(2\sqrt{\ln 2})`): a ``UserWarning`` is issued and the formula returned.

    Parameters
    ----------
    beta : float or array, > 0.
    J : coupling scale (> 0). J0 : mean coupling scale; only enters the validity check.
    """
    J = as_real(J, "J", low=0.0, low_open=True)
    J0 = as_real(J0, "J0")
    b = _positive_beta(beta)
    tc = max(J, J0)
    if np.any(b >= 1.0 / tc):
        warnings.warn(
            f"the SK paramagnet is the equilibrium state only for T > {tc:g} (beta < {1 / tc:g}); "
            "below it the formula describes the unstable replica-symmetric paramagnet.",
            UserWarning,
            stacklevel=2,
        )
    x = (b * J) ** 2
    mbf = math.log(2.0) + x / 4
    return SKParamagnetResult(
        beta=_out(b),
        J=float(J),
        minus_beta_f=_out(mbf),
        free_energy=_out(-mbf / b),
        energy=_out(-b * J * J / 2),
        entropy=_out(math.log(2.0) - x / 4),
        heat_capacity=_out(x / 2),
    )


# ---------------------------------------------------------------------------------------- layered SK
def layered_sk_tc(
    widths: Sequence[int], variances: float | Sequence[float] | None = None, *, C: float | None = None
) -> float:
    r"""Layered-SK spin-glass temperature :math:`T_c^2 = \lambda_{\max}(M)`, :math:`M_{ab} = n_b\sigma_{ab}^2`.

    Layers :math:`a = 0..L` of widths :math:`n_a`; couplings only between adjacent layers, i.i.d. with
    variance :math:`\sigma_{a,a+1}^2`, so :math:`M` is tridiagonal with
    :math:`M_{a,a+1} = n_{a+1}\sigma_{a,a+1}^2`, :math:`M_{a+1,a} = n_a\sigma_{a,a+1}^2` (derived by linearising
    the replica-symmetric equations; see SCIENCE.md). :math:`M` is similar to the symmetric
    :math:`\sqrt{n_an_b}\,\sigma_{ab}^2`, whose largest eigenvalue is taken.

    Relation to :func:`spinlens.spins.layered_sk` ``(widths, C)``: its weights between layers ``l`` and ``l+1``
    have variance ``C / widths[l]`` (fan-in scaling), so pass ``variances=[C / w for w in widths[:-1]]``, or
    simply ``C=C``. Equal widths then give :func:`layered_sk_tc_equal` ``(C, L)``.

    Parameters
    ----------
    widths : sequence of >= 2 positive ints.
    variances : float or sequence of ``len(widths) - 1`` floats
        :math:`\sigma^2` of the couplings in each gap (a scalar applies to all gaps).
    C : float, optional
        Instead of ``variances``: fan-in scaled variance ``C / widths[l]`` in gap ``l``.

    Returns
    -------
    float : :math:`T_c`.
    """
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise ValueError(f"widths must be a list of layer sizes, got {widths!r}.")
    w = np.asarray([as_count(x, "widths (layer size)") for x in widths], dtype=np.float64)
    if w.ndim != 1 or w.size < 2 or np.any(w < 1):
        raise ValueError(f"widths must list at least two positive layer sizes, got {list(widths)}.")
    L = w.size - 1
    if (variances is None) == (C is None):
        raise ValueError("give exactly one of variances (sigma^2 per gap) or C (variance C / fan_in).")
    if C is not None:
        var = as_real(C, "C", low=0.0, low_open=True) / w[:-1]
    else:
        if isinstance(variances, (bool, np.bool_)):
            raise ValueError(f"variances must be numbers, got {variances!r}.")
        var = as_real_array(variances, "variances", ndim=(0, 1), finite=False)
        if var.ndim == 0:
            var = np.full(L, float(var))
        if var.shape != (L,):
            raise ValueError(f"variances needs one value per gap ({L}) or a scalar, got shape {var.shape}.")
        if not np.all(np.isfinite(var)) or np.any(var < 0):
            raise ValueError("variances must be finite and >= 0.")
    S = np.zeros((L + 1, L + 1))
    off = np.sqrt(w[:-1] * w[1:]) * var
    S[np.arange(L), np.arange(1, L + 1)] = off
    S[np.arange(1, L + 1), np.arange(L)] = off
    lam = float(np.linalg.eigvalsh(S)[-1])
    return math.sqrt(max(lam, 0.0))


def layered_sk_tc_equal(C: float, L: int) -> float:
    r"""Equal widths, :math:`C = n\sigma^2`, ``L`` weight matrices: :math:`T_c = \sqrt{2C\cos(\pi/(L+2))}`.

    ``L = 1`` gives :math:`\sqrt C`, ``L → ∞`` gives :math:`\sqrt{2C}` (the largest eigenvalue of a path of
    ``L + 1`` nodes is :math:`2\cos(\pi/(L+2))`).
    """
    C = as_real(C, "C", low=0.0, low_open=True)
    L = as_count(L, "L (number of weight matrices)", minimum=1)
    return math.sqrt(2.0 * C * math.cos(math.pi / (L + 2)))
