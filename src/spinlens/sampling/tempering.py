r"""Parallel tempering (replica exchange) with an adaptive ladder, and simulated annealing for ground states.

Parallel tempering (Swendsen & Wang 1986; Hukushima & Nemoto 1996): ``n_temps`` replicas at inverse
temperatures :math:`\beta_0 < \dots < \beta_{K-1} = \beta` each do single-spin sweeps; neighbouring replicas swap
temperatures with probability :math:`\min(1, e^{(\beta_i-\beta_j)(E_i-E_j)})`, which keeps the product of
Boltzmann distributions invariant. During burn-in the ladder adapts: the log-gaps
:math:`g_k = \ln\beta_{k+1} - \ln\beta_k` are multiplied by :math:`e^{\gamma(A_k - A^*)}` where :math:`A_k` is the
measured swap acceptance of the pair and :math:`A^*` the target, with the coldest temperature fixed at the
requested ``beta``. Without ``beta_min`` the hottest temperature floats (each pair approaches :math:`A^*`);
with ``beta_min`` both ends stay and the acceptances equalise (raise ``n_temps`` if they end below target).

Simulated annealing (Kirkpatrick, Gelatt & Vecchi 1983): Metropolis sweeps along a geometric schedule
:math:`\beta_0 \to \beta_1`, then a zero-temperature quench; the lowest energy over restarts approximates the
ground state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spinlens._progress import ProgressCallback, notify
from spinlens._rng import RNGLike, as_generator
from spinlens.results import Result
from spinlens.sampling import _kernels as K
from spinlens.sampling.samplers import (
    Samples,
    _check_chain_args,
    _csr_arrays,
    check_coupling_dtype,
    initial_state,
    local_fields,
    run_single_spin,
    validate_run,
)
from spinlens.spins.model import IsingModel, as_count, as_positive, as_real, as_real_array, check_model

__all__ = ["ParallelTempering", "AnnealResult", "anneal"]


@dataclass(frozen=True)
class ParallelTempering:
    """Replica-exchange sampler; ``n_chains`` independent ladders of ``n_temps`` replicas each.

    Parameters
    ----------
    n_temps : replicas per ladder.
    beta_min : hottest inverse temperature, kept fixed (default: start at ``beta / 4`` and let the hot end
        float to reach the target acceptance).
    betas : explicit ladder (ascending, last = target beta); disables adaptation when given.
    target_acceptance : swap acceptance the adaptive ladder aims at (0.2–0.4 are common choices).
    adapt : adapt the ladder during burn-in (the production run uses a fixed ladder).
    sweeps_per_swap : single-spin sweeps between swap rounds.
    record_all : also record energies at every temperature and, for chain pairs (0, 1), (2, 3), ..., the overlap
        ``q`` between the two ladders at every temperature (``Samples.extra["energy_all"]``, ``["overlaps"]``).
    coupling_dtype : storage of dense couplings for the single-spin sweeps (see :class:`MetropolisSampler`).

    ``sample`` returns the time series at the target (coldest) ``beta``; ``state`` in and out is the
    ``(n_chains, n)`` configuration at the target temperature (other replicas restart from it).
    """

    n_temps: int = 16
    beta_min: float | None = None
    betas: tuple[float, ...] | None = None
    target_acceptance: float = 0.3
    adapt: bool = True
    sweeps_per_swap: int = 1
    rule: str = "metropolis"
    n_chains: int = 2
    n_burn: int = 0
    thin: int = 1
    record_states: bool = False
    record_all: bool = False
    coupling_dtype: str = "auto"

    def __post_init__(self) -> None:
        _check_chain_args(self.n_chains, self.n_burn, self.thin)
        check_coupling_dtype(self.coupling_dtype)
        if self.betas is None:
            as_count(self.n_temps, "n_temps", minimum=2)
        else:
            if isinstance(self.betas, (str, bytes)) or not hasattr(self.betas, "__len__"):
                raise ValueError(f"betas must be a sequence of inverse temperatures, got {self.betas!r}.")
            b = as_real_array(self.betas, "betas", ndim=1)
            if b.size < 2 or np.any(b <= 0) or np.any(np.diff(b) <= 0):
                raise ValueError("betas must be an increasing sequence of >= 2 positive inverse temperatures.")
        if self.beta_min is not None:
            as_positive(self.beta_min, "beta_min")
        as_real(self.target_acceptance, "target_acceptance", low=0.0, high=1.0, low_open=True, high_open=True)
        as_count(self.sweeps_per_swap, "sweeps_per_swap", minimum=1)
        if self.rule not in ("metropolis", "heatbath"):
            raise ValueError(f"rule must be 'metropolis' or 'heatbath', got {self.rule!r}.")

    def ladder(self, beta: float) -> np.ndarray:
        """Initial ladder: the given ``betas`` or a geometric one from ``beta_min`` to ``beta``."""
        if self.betas is not None:
            b = np.asarray(self.betas, dtype=np.float64)
            if b.ndim != 1 or b.size < 2 or np.any(b <= 0) or np.any(np.diff(b) <= 0):
                raise ValueError("betas must be an increasing sequence of >= 2 positive inverse temperatures.")
            return b
        lo = self.beta_min if self.beta_min is not None else beta / 4.0
        if not 0.0 < lo < beta:
            raise ValueError(f"beta_min must lie in (0, beta) = (0, {beta}), got {lo}.")
        return np.geomspace(lo, beta, int(self.n_temps))

    def sample(self, model: IsingModel, beta: float, n_sweeps: int, state: Any = None,
               rng: RNGLike = None, progress: ProgressCallback | None = None) -> tuple[Samples, np.ndarray]:
        beta, n_sweeps = validate_run(model, beta, n_sweeps)
        g = as_generator(rng)
        ladder = self.ladder(beta)
        if self.betas is not None:
            beta = float(ladder[-1])
        Kt = ladder.size
        C = self.n_chains
        n = model.n_spins
        S0 = initial_state(model, C, state, g)
        # replica slot c*K + k starts at temperature k; the target-temperature slot gets the given state
        S = np.empty((C * Kt, n), dtype=np.int8)
        for c in range(C):
            for k in range(Kt):
                S[c * Kt + k] = S0[c] if (state is not None or k == Kt - 1) else \
                    (2 * g.integers(0, 2, size=n) - 1).astype(np.int8)
        cache = local_fields(model, S, self.coupling_dtype)  # the field state run_single_spin keeps up to date
        rep_at = np.tile(np.arange(Kt), (C, 1)) + (np.arange(C) * Kt)[:, None]  # rep_at[c, k] = slot at temp k
        spp = int(self.sweeps_per_swap)
        n_rounds = max(1, math.ceil(n_sweeps / spp))
        burn_rounds = min(n_rounds, math.ceil(self.n_burn / spp))
        adapt = self.adapt and self.betas is None
        T = max(0, (n_rounds - burn_rounds) // self.thin)
        E_out = np.zeros((C, T))
        M_out = np.zeros((C, T))
        S_out = np.zeros((C, T, n), dtype=np.int8) if self.record_states else None
        E_all = np.zeros((C, T, Kt)) if self.record_all else None
        n_pairs = C // 2
        Q = np.zeros((n_pairs, T, Kt)) if (self.record_all and n_pairs) else None
        tries = np.zeros(Kt - 1)
        accs = np.zeros(Kt - 1)
        win_t = np.zeros(Kt - 1)
        win_a = np.zeros(Kt - 1)
        flips = 0
        rec = 0
        heat = self.rule == "heatbath"
        betas_slot = np.empty(C * Kt)
        for rnd in range(n_rounds):
            betas_slot[rep_at.ravel()] = np.tile(ladder, C)
            _, _, acc, _ = run_single_spin(model, S, betas_slot, spp, spp, 1, heat, False, g, cache=cache,
                                           coupling_dtype=self.coupling_dtype)
            flips += int(acc.sum())
            energies = cache[1]
            parity = rnd % 2
            u = g.random((C, Kt))
            for c in range(C):
                for k in range(parity, Kt - 1, 2):
                    a, b = rep_at[c, k], rep_at[c, k + 1]
                    x = (ladder[k] - ladder[k + 1]) * (energies[a] - energies[b])
                    ok = x >= 0 or u[c, k] < math.exp(x)
                    win_t[k] += 1
                    if ok:
                        rep_at[c, k], rep_at[c, k + 1] = b, a
                        win_a[k] += 1
            if rnd < burn_rounds:
                if adapt and (rnd + 1) % 20 == 0 and rnd + 1 < burn_rounds:
                    ladder = _adapt_ladder(ladder, win_a / np.maximum(win_t, 1), self.target_acceptance,
                                           fixed_range=self.beta_min is not None)
                    win_t[:] = 0
                    win_a[:] = 0
                if rnd == burn_rounds - 1:
                    win_t[:] = 0
                    win_a[:] = 0
            else:
                tries += win_t
                accs += win_a
                win_t[:] = 0
                win_a[:] = 0
                j = rnd - burn_rounds
                if (j + 1) % self.thin == 0 and rec < T:
                    top = rep_at[:, Kt - 1]
                    E_out[:, rec] = energies[top]
                    M_out[:, rec] = cache[2][top]
                    if S_out is not None:
                        S_out[:, rec] = S[top]
                    if E_all is not None:
                        E_all[:, rec] = energies[rep_at]
                    if Q is not None:
                        for p in range(n_pairs):
                            Q[p, rec] = np.mean(S[rep_at[2 * p]].astype(np.float64) * S[rep_at[2 * p + 1]], axis=1)
                    rec += 1
            if rnd % 10 == 0 or rnd == n_rounds - 1:
                notify(progress, rnd + 1, n_rounds)
        swap_acc = accs / np.maximum(tries, 1)
        extra: dict[str, Any] = {"betas": ladder.copy(), "swap_acceptance": swap_acc}
        if E_all is not None:
            extra["energy_all"] = E_all
        if Q is not None:
            extra["overlaps"] = Q
        final = np.ascontiguousarray(S[rep_at[:, Kt - 1]])
        return Samples(E_out, M_out, S_out, flips / (C * Kt * n * n_rounds * spp), n, "tempering", extra), final


def _adapt_ladder(ladder: np.ndarray, acc: np.ndarray, target: float, fixed_range: bool,
                  gamma: float = 1.0) -> np.ndarray:
    """One feedback step on the log-gaps: ``g_k *= exp(gamma (A_k - target))``, coldest beta fixed.

    With ``fixed_range`` the gaps are rescaled to keep the hottest beta too (the acceptances equalise);
    otherwise the hottest temperature floats so that every pair approaches the target acceptance.
    """
    logs = np.log(ladder)
    gaps = np.diff(logs) * np.exp(gamma * (np.clip(acc, 0.0, 1.0) - target))
    gaps = np.maximum(gaps, 1e-6)
    if fixed_range:
        gaps *= (logs[-1] - logs[0]) / gaps.sum()
    else:
        gaps = np.minimum(gaps, 2.0)
    return np.exp(logs[-1] - np.concatenate([np.cumsum(gaps[::-1])[::-1], [0.0]]))


@dataclass(frozen=True)
class AnnealResult(Result):
    """Simulated-annealing outcome.

    Attributes
    ----------
    energy : lowest energy found (total :math:`H`); ``energy_per_spin`` the same divided by ``n_spins``.
    state : (n,) int8 — the best configuration.
    energies : (n_restarts,) — final (quenched) energy of every restart.
    """

    energy: float
    energy_per_spin: float
    state: np.ndarray
    energies: np.ndarray
    n_spins: int
    betas: np.ndarray = field(default_factory=lambda: np.zeros(0))


def anneal(model: IsingModel, n_steps: int = 200, beta_start: float = 0.1, beta_end: float = 5.0,
           sweeps_per_step: int = 1, n_restarts: int = 8, rng: RNGLike = None,
           progress: ProgressCallback | None = None, coupling_dtype: str = "auto") -> AnnealResult:
    """Simulated annealing for the ground state of any :class:`IsingModel`.

    ``n_restarts`` independent runs of Metropolis sweeps along the geometric schedule
    ``beta_start -> beta_end`` (``n_steps`` steps, ``sweeps_per_step`` sweeps each), each followed by a greedy
    zero-temperature quench. Returns the best energy and state (a heuristic: an upper bound on the ground state).
    ``coupling_dtype`` sets the storage of dense couplings for the sweeps (see :class:`MetropolisSampler`); the
    quench and the returned energy use the exact couplings.
    """
    check_model(model)
    n_steps = as_count(n_steps, "n_steps", minimum=1)
    beta_start, beta_end = as_positive(beta_start, "beta_start"), as_positive(beta_end, "beta_end")
    if not beta_start <= beta_end:
        raise ValueError(f"need 0 < beta_start <= beta_end, got {beta_start}, {beta_end}.")
    n_restarts = as_count(n_restarts, "n_restarts", minimum=1)
    sweeps_per_step = as_count(sweeps_per_step, "sweeps_per_step", minimum=1)
    check_coupling_dtype(coupling_dtype)
    g = as_generator(rng)
    S = initial_state(model, int(n_restarts), None, g)
    cache = local_fields(model, S, coupling_dtype)
    betas = np.geomspace(beta_start, beta_end, int(n_steps))
    for k, b in enumerate(betas):
        run_single_spin(model, S, np.full(S.shape[0], b), int(sweeps_per_step), int(sweeps_per_step), 1, False,
                        False, g, cache=cache, coupling_dtype=coupling_dtype)
        if k % 10 == 0 or k == len(betas) - 1:
            notify(progress, k + 1, len(betas))
    ip, ix, dat = _csr_arrays(model)
    phis, energies, mags, _ = local_fields(model, S, "float64")  # the quench descends the exact couplings
    K.quench_csr(ip, ix, dat, model.h, S, phis, energies, mags, 10_000)
    E = np.asarray(model.energy(S), dtype=np.float64)
    best = int(np.argmin(E))
    n = model.n_spins
    return AnnealResult(float(E[best]), float(E[best]) / n, S[best].copy(), E, n, betas)
