"""``spinlens maxent fit DATA.npy``: maximum-entropy (inverse Ising) fit of binary data.

Loads samples (M, n) in {-1, +1} or {0, 1} from ``.npy`` (or ``.npz`` with one array, or key ``samples``),
fits :class:`spinlens.meanfield.InverseIsing`, and writes h, J, the fitted vs empirical moments (exact for
n <= 16, else heat-bath Monte Carlo of the fitted model), convergence information, a figure and a report.
"""
from __future__ import annotations

from enum import Enum
from pathlib import Path

import numpy as np
import typer

from spinlens.cli._common import UserError, console, open_run, progress_bar


class Method(str, Enum):
    pseudolikelihood = "pseudolikelihood"
    boltzmann = "boltzmann"
    nmf = "nmf"
    tap = "tap"


def _load(path: Path) -> np.ndarray:
    if not path.exists():
        raise FileNotFoundError(f"data file {path} does not exist")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            key = "samples" if "samples" in z.files else (z.files[0] if len(z.files) == 1 else None)
            if key is None:
                raise UserError(f"{path} holds {z.files}; name the samples array 'samples'.")
            return np.asarray(z[key])
    return np.asarray(np.load(path, allow_pickle=False))


def _model_moments(model, n_mc: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    n = model.n_spins
    if n <= 16:
        from spinlens.exact import enumerate as exact_enumerate

        r = exact_enumerate(model, 1.0)
        return np.asarray(r.m), np.asarray(r.corr), "exact enumeration"
    from spinlens._rng import as_generator
    from spinlens.meanfield._kernels import gibbs_sweeps

    g = as_generator(seed)
    chains = np.where(g.random((256, n)) < 0.5, 1, -1).astype(np.int8)
    J = np.ascontiguousarray(model.dense_J())
    gibbs_sweeps(chains, J, model.h, 200, int(g.integers(2**31)))
    acc_m, acc_c, k = np.zeros(n), np.zeros((n, n)), 0
    for _ in range(max(1, n_mc // 256)):
        gibbs_sweeps(chains, J, model.h, 2, int(g.integers(2**31)))
        X = chains.astype(np.float64)
        acc_m += X.sum(0)
        acc_c += X.T @ X
        k += X.shape[0]
    return acc_m / k, acc_c / k, f"heat-bath Monte Carlo ({k} samples)"


def fit_command(
    data: Path = typer.Argument(..., help="Samples (M, n) in {-1,+1} or {0,1}: .npy, or .npz."),
    method: Method = typer.Option(Method.pseudolikelihood, "--method", help="Inverse-Ising method."),
    l1: float = typer.Option(0.0, "--l1", help="L1 penalty (pseudo-likelihood)."),
    l2: float = typer.Option(0.0, "--l2", help="L2 penalty (needed when a column is constant)."),
    max_iter: int = typer.Option(500, "--max-iter", help="Optimiser iterations / learning steps."),
    mc_samples: int = typer.Option(20000, "--mc-samples", help="Monte Carlo samples for the fitted moments (n > 16)."),
    seed: int = typer.Option(0, "--seed", help="Seed (Monte Carlo)."),
    out: Path = typer.Option(Path("runs/maxent"), "--out", help="Run directory."),
) -> None:
    """Fit fields h and couplings J of the maximum-entropy (Ising) model of binary data."""
    from spinlens.meanfield import InverseIsing, as_spin_samples
    from spinlens.report import Section, new_figure, write_report

    S = as_spin_samples(_load(data))
    M, n = S.shape
    config = {"data": str(data), "method": method.value, "l1": l1, "l2": l2, "max_iter": max_iter,
              "n_samples": M, "n_spins": n}
    run = open_run(out, config=config, seeds={"seed": seed})
    est = InverseIsing(method.value, l1=l1, l2=l2, max_iter=max_iter, rng=seed)
    with progress_bar(f"fitting ({method.value})", total=max_iter) as cb:
        est.fit(S, progress=cb)
    model = est.to_model()
    m_fit, c_fit, how = _model_moments(model, mc_samples, seed)
    m_dat = S.mean(0)
    c_dat = S.T @ S / M
    iu = np.triu_indices(n, 1)
    cc_dat = (c_dat - np.outer(m_dat, m_dat))[iu]
    cc_fit = (c_fit - np.outer(m_fit, m_fit))[iu]
    run.save_arrays("fit", h=est.h_, J=est.J_, m_data=m_dat, corr_data=c_dat, m_fit=m_fit, corr_fit=c_fit)
    summary = {
        "method": method.value, "n_spins": n, "n_samples": M, "converged": bool(est.converged_),
        "n_iter": int(est.n_iter_), "objective": float(est.objective_), "fitted_moments_from": how,
        "max_abs_error_m": float(np.max(np.abs(m_fit - m_dat))),
        "max_abs_error_corr": float(np.max(np.abs(c_fit - c_dat)[iu])) if n > 1 else 0.0,
        "sampling_error_scale": float(1.0 / np.sqrt(M)),
    }
    run.save_json(summary, "summary")
    fig, axes = new_figure(1, 2, size=(9.6, 4.0))
    se = 1.0 / np.sqrt(M)
    for ax, x, y, name in ((axes[0], m_dat, m_fit, "magnetisations ⟨s_i⟩"),
                           (axes[1], cc_dat, cc_fit, "connected correlations ⟨s_i s_j⟩ − ⟨s_i⟩⟨s_j⟩")):
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        ax.fill_between([lo, hi], [lo - 2 * se, hi - 2 * se], [lo + 2 * se, hi + 2 * se], color="0.85",
                        label="y = x ± 2/√M (sampling scale)")
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        ax.plot(x, y, ".", ms=5, alpha=0.8, label=f"max |fit − data| = {np.max(np.abs(y - x)) if x.size else 0:.2g}")
        ax.set(xlabel="empirical (data)", ylabel=f"fitted model ({how.split(' (')[0]})", title=name)
        ax.legend(frameon=False, loc="upper left", fontsize="small")
        ax.grid(alpha=0.3)
    png = run.save_figure(fig, "moments")
    rows = [{"quantity": k, "value": v} for k, v in summary.items()]
    text = [
        "Maximum entropy under first and second moments is the Ising model P(s) ∝ exp(Σ h_i s_i + Σ_{i<j} J_ij s_i s_j)"
        f"; fitted by {method.value}. A good fit puts the points on the diagonal within the sampling error ~ 1/√M.",
    ]
    write_report(run.path, "Maximum-entropy fit", [Section("Fit", text, [("summary", rows)],
                                                            [(png, "fitted vs empirical moments")])], run.manifest)
    console.print(f"max |m_fit − m_data| = {summary['max_abs_error_m']:.3g}, "
                  f"max |C_fit − C_data| = {summary['max_abs_error_corr']:.3g}  ({how})")


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Maximum-entropy (inverse Ising) models of binary data.", no_args_is_help=True)
    sub.command("fit")(fit_command)
    app.add_typer(sub, name="maxent")
