"""``spinlens maxent fit DATA.npy``: maximum-entropy (inverse Ising) fit of binary data.

Loads samples (M, n) in {-1, +1} or {0, 1} from ``.npy`` (or ``.npz`` with one array, or key ``samples``),
fits :class:`spinlens.meanfield.InverseIsing`, and writes the fitted fields h and couplings J (arrays and a
figure), the fitted vs empirical moments under distinct names -- magnetisations ``m`` = <s_i>, pair moments
``pair`` = <s_i s_j> and connected correlations ``connected`` = C_ij = <s_i s_j> - <s_i><s_j> (model moments by
exact enumeration for n <= 16, else heat-bath Monte Carlo of the fitted model) -- convergence information
and a report.
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
    """The samples array of a ``.npy`` file or an ``.npz`` archive (one array, or the key ``samples``).

    The file type is read from its first bytes, not its name: missing files, directories, empty files and
    anything that is neither a NumPy ``.npy`` file nor an ``.npz`` archive (text, pickles) are refused with
    a message naming the DATA argument; object arrays are never unpickled.
    """
    import zipfile

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file {path} does not exist")
    if not path.is_file():
        raise UserError(f"DATA {path} is not a file (a directory?); pass the .npy or .npz file of samples.")
    with open(path, "rb") as fh:
        head = fh.read(6)
    if not head:
        raise UserError(f"DATA {path} is empty; save the samples with np.save(f, S) (S of shape (M, n)).")
    is_npy, is_npz = head == b"\x93NUMPY", zipfile.is_zipfile(path)
    if not (is_npy or is_npz):
        raise UserError(f"DATA {path} is neither a NumPy .npy file nor an .npz archive (text or pickle?); "
                        "save the samples with np.save(f, S) (S of shape (M, n)).")
    try:
        if is_npz:
            with np.load(path, allow_pickle=False) as z:
                key = "samples" if "samples" in z.files else (z.files[0] if len(z.files) == 1 else None)
                if key is None:
                    raise UserError(f"{path} holds {z.files}; name the samples array 'samples'.")
                return np.asarray(z[key])
        return np.asarray(np.load(path, allow_pickle=False))
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:  # object arrays, truncated files
        raise UserError(f"DATA {path} could not be read: {exc}") from None


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
    """Fit fields h and couplings J of the maximum-entropy (Ising) model of binary data.

    Writes fit.npz, summary.json, couplings.png (J and h), moments_{m,pair,connected}.png and report.html.
    """
    from spinlens.meanfield import InverseIsing, as_spin_samples
    from spinlens.report import Section, write_report

    S = as_spin_samples(_load(data))
    M, n = S.shape
    config = {"data": str(data), "method": method.value, "l1": l1, "l2": l2, "max_iter": max_iter,
              "n_samples": M, "n_spins": n}
    run = open_run(out, config=config, seeds={"seed": seed})
    est = InverseIsing(method.value, l1=l1, l2=l2, max_iter=max_iter, rng=seed)
    with progress_bar(f"fitting ({method.value})", total=max_iter) as cb:
        est.fit(S, progress=cb)
    model = est.to_model()
    m_fit, pair_fit, how = _model_moments(model, mc_samples, seed)
    X = S.astype(np.float64)
    m_dat = X.mean(0)
    pair_dat = X.T @ X / M
    conn_dat = pair_dat - np.outer(m_dat, m_dat)
    conn_fit = pair_fit - np.outer(m_fit, m_fit)
    iu = np.triu_indices(n, 1)
    run.save_arrays("fit", h=est.h_, J=est.J_, m_data=m_dat, m_fit=m_fit, pair_data=pair_dat, pair_fit=pair_fit,
                    connected_data=conn_dat, connected_fit=conn_fit)

    def max_err(fit: np.ndarray, dat: np.ndarray) -> float:
        return float(np.max(np.abs(fit - dat)[iu])) if n > 1 else 0.0

    summary = {
        "method": method.value, "n_spins": n, "n_samples": M, "converged": bool(est.converged_),
        "n_iter": int(est.n_iter_), "convergence": getattr(est, "convergence_message_", ""),
        "objective": float(est.objective_), "fitted_moments_from": how,
        "max_abs_error_m": float(np.max(np.abs(m_fit - m_dat))),
        "max_abs_error_pair": max_err(pair_fit, pair_dat),
        "max_abs_error_connected": max_err(conn_fit, conn_dat),
        "sampling_error_scale": float(1.0 / np.sqrt(M)),
        "max_abs_h": float(np.max(np.abs(est.h_))),
        "max_abs_J": float(np.max(np.abs(est.J_[iu]))) if n > 1 else 0.0,
    }
    run.save_json(summary, "summary")
    model_name = f"fitted model ({how.split(' (')[0]})"
    png_c = run.save_figure(_couplings_figure(est.h_, est.J_, method.value), "couplings")
    moment_figs = []
    for name, x, y, title, caption in (
        ("moments_m", m_dat, m_fit, r"magnetisations $\langle s_i\rangle$", "magnetisations ⟨s_i⟩"),
        ("moments_pair", pair_dat[iu], pair_fit[iu], r"pair moments $\langle s_i\,s_j\rangle$, $i<j$",
         "pair moments ⟨s_i s_j⟩ (i < j)"),
        ("moments_connected", conn_dat[iu], conn_fit[iu],
         "connected correlations, $i<j$\n"
         r"$C_{ij}=\langle s_i\,s_j\rangle-\langle s_i\rangle\langle s_j\rangle$",
         "connected correlations C_ij = ⟨s_i s_j⟩ − ⟨s_i⟩⟨s_j⟩ (i < j)"),
    ):
        if x.size:
            png = run.save_figure(_moment_figure(x, y, M, title, model_name), name)
            moment_figs.append((png, f"{caption}: fitted model against data"))
    rows = [{"quantity": k, "meaning": _MEANING.get(k, ""), "value": v} for k, v in summary.items()]
    fit_text = [
        "Maximum entropy under the first and second moments ⟨s_i⟩ and ⟨s_i s_j⟩ is the Ising model "
        "P(s) ∝ exp(Σ_i h_i s_i + Σ_{i<j} J_ij s_i s_j)"
        f"; fitted by {method.value} at β = 1. The fitted fields h and couplings J are in fit.npz (arrays h, J).",
    ]
    moments_text = [
        "Data against the fitted model for three families of moments: the magnetisations ⟨s_i⟩, the pair "
        "moments ⟨s_i s_j⟩ (the constraints of the maximum-entropy problem; arrays m_*, pair_* in fit.npz), and "
        "the connected correlations C_ij = ⟨s_i s_j⟩ − ⟨s_i⟩⟨s_j⟩ (arrays connected_*), which remove the part of "
        "⟨s_i s_j⟩ that the magnetisations explain and so test the couplings. A good fit puts the points on the "
        f"diagonal within the sampling error ~ 1/√M = {1.0 / np.sqrt(M):.2g}. Model moments: {how}.",
    ]
    write_report(run.path, "Maximum-entropy fit", [
        Section("Fitted model", fit_text, [("summary", rows)],
                [(png_c, "fitted couplings J_ij (heat map, symmetric colour scale) and fields h_i")]),
        Section("Data vs model moments", moments_text, figures=moment_figs),
    ], run.manifest)
    console.print(f"max |Δ⟨s_i⟩| = {summary['max_abs_error_m']:.3g}, "
                  f"max |Δ⟨s_i s_j⟩| = {summary['max_abs_error_pair']:.3g}, "
                  f"max |ΔC_ij| = {summary['max_abs_error_connected']:.3g} (fit − data; {how}; 1/√M = "
                  f"{summary['sampling_error_scale']:.2g})")


_MEANING = {
    "max_abs_error_m": "max_i |⟨s_i⟩_fit − ⟨s_i⟩_data| (magnetisations)",
    "max_abs_error_pair": "max_{i<j} |⟨s_i s_j⟩_fit − ⟨s_i s_j⟩_data| (pair moments)",
    "max_abs_error_connected": "max_{i<j} |C_ij fit − C_ij data|, C_ij = ⟨s_i s_j⟩ − ⟨s_i⟩⟨s_j⟩ (connected)",
    "sampling_error_scale": "1/√M, the scale of the sampling error of the data moments",
    "max_abs_h": "max_i |h_i| (fitted fields)",
    "max_abs_J": "max_{i<j} |J_ij| (fitted couplings)",
    "objective": "final value of the method's objective",
}


def _couplings_figure(h: np.ndarray, J: np.ndarray, method: str):
    """Heat map of J (symmetric colour scale around 0, diagonal grey) above a stem plot of h."""
    import matplotlib as mpl

    from spinlens.report import new_figure

    n = len(h)
    fig, axes = new_figure(2, 1, size=(5.4, 7.6), gridspec_kw={"height_ratios": [1.45, 1.0]})
    Jd = np.array(J, dtype=np.float64)
    np.fill_diagonal(Jd, np.nan)
    vmax = float(np.nanmax(np.abs(Jd))) if n > 1 else 0.0
    vmax = vmax if vmax > 0 else 1.0
    cmap = mpl.colormaps["RdBu_r"].with_extremes(bad="0.75")
    im = axes[0].imshow(Jd, cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest",
                        extent=(0.5, n + 0.5, n + 0.5, 0.5))
    fig.colorbar(im, ax=axes[0], label=r"$J_{ij}$  (colour scale $\pm\max|J_{ij}|$)")
    axes[0].set(xlabel="spin j", ylabel="spin i",
                title=rf"fitted couplings $J_{{ij}}$ ({method}); grey: $i=j$")
    idx = np.arange(1, n + 1)
    axes[1].axhline(0.0, color="k", lw=0.8)
    markers, stems, _ = axes[1].stem(idx, h, basefmt=" ")
    markers.set_markersize(5 if n <= 60 else 2)
    stems.set_linewidth(1.2 if n <= 60 else 0.6)
    axes[1].set(xlabel="spin i", ylabel=r"$h_i$", title=r"fitted fields $h_i$", xlim=(0.5, n + 0.5))
    axes[1].grid(alpha=0.3)
    for a in (axes[0].xaxis, axes[0].yaxis, axes[1].xaxis):
        a.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    return fig


def _moment_figure(x: np.ndarray, y: np.ndarray, M: int, title: str, model_name: str):
    """One moment family, fitted model (y) against data (x), with the y = x +- 2/sqrt(M) sampling band."""
    from spinlens.report import new_figure

    fig, ax = new_figure(size=(5.0, 4.6))
    se = 1.0 / np.sqrt(M)
    lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
    pad = 0.05 * (hi - lo) + 2 * se
    lo, hi = lo - pad, hi + pad
    ax.fill_between([lo, hi], [lo - 2 * se, hi - 2 * se], [lo + 2 * se, hi + 2 * se], color="0.85",
                    label=r"$y = x \pm 2/\sqrt{M}$ (sampling scale)")
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax.plot(x, y, ".", ms=7 if x.size <= 200 else 3, alpha=0.8, label=f"max |fit − data| = {np.max(np.abs(y - x)):.2g}")
    ax.set(xlabel=f"data (empirical, M = {M})", ylabel=model_name, title=title, xlim=(lo, hi), ylim=(lo, hi))
    ax.set_aspect("equal", adjustable="box")
    ax.legend(frameon=False, loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Maximum-entropy (inverse Ising) models of binary data.", no_args_is_help=True)
    sub.command("fit")(fit_command)
    app.add_typer(sub, name="maxent")
