"""``spinlens tap``: TAP magnetisations and paramagnet stability of a model over a temperature grid.

Reads J (dense ``J`` or CSR ``J_data``/``J_indices``/``J_indptr``/``J_shape``, or a ``scipy.sparse.save_npz``
file) and optional ``h`` from an ``.npz``; solves TAP at every temperature at once
(:func:`spinlens.meanfield.tap_scan`, annealed from the paramagnet) and computes the paramagnet stability
:math:`f(T) = \\lambda_{\\min}(T I + D/T - J)` (:func:`spinlens.meanfield.paramagnet_stability`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer

from spinlens.cli._common import UserError, console, open_run


def load_model_npz(path: Path, sparse_ok: bool = True) -> Any:
    """An IsingModel from an ``.npz`` (dense ``J``, CSR parts ``J_data``..., or a scipy ``save_npz`` file).

    Missing files, directories and files that are not ``.npz`` archives (text, empty, pickles, a single
    ``.npy``) are refused with a message naming ``--npz``; object arrays are never unpickled.
    """
    import zipfile

    import scipy.sparse as sp

    from spinlens import IsingModel

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"--npz file {path} does not exist")
    if not path.is_file():
        raise UserError(f"--npz {path} is not a file (a directory?); pass the .npz that holds J and h.")
    if not zipfile.is_zipfile(path):
        raise UserError(f"--npz {path} is not a NumPy .npz archive (empty, text, pickle or .npy file); "
                        "save the couplings with np.savez(f, J=J, h=h).")
    try:
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            h = np.asarray(z["h"]) if "h" in files else None
            if "J" in files:
                J: Any = np.asarray(z["J"])
            elif sparse_ok and {"J_data", "J_indices", "J_indptr", "J_shape"} <= files:
                J = sp.csr_matrix((z["J_data"], z["J_indices"], z["J_indptr"]), shape=tuple(z["J_shape"]))
            elif sparse_ok and {"data", "indices", "indptr", "shape", "format"} <= files:
                J = sp.load_npz(path)
            else:
                raise UserError(
                    f"{path} holds no couplings (found {sorted(files)}); save np.savez(f, J=J, h=h), or sparse "
                    "J as J_data/J_indices/J_indptr/J_shape, or use scipy.sparse.save_npz."
                )
    except (ValueError, OSError, zipfile.BadZipFile) as exc:  # object arrays (need pickles), corrupt members
        raise UserError(f"--npz {path} could not be read: {exc}") from None
    return IsingModel(J, h)


def tap_command(
    npz: Path = typer.Option(..., "--npz", help="Model file: J (dense or CSR parts) and optional h."),
    tmin: float = typer.Option(0.2, "--tmin", help="Lowest temperature."),
    tmax: float = typer.Option(3.0, "--tmax", help="Highest temperature."),
    n_temps: int = typer.Option(50, "--n-temps", help="Number of temperatures (linear grid)."),
    tol: float = typer.Option(1e-9, "--tol", help="Residual tolerance of the TAP iteration."),
    max_iter: int = typer.Option(3000, "--max-iter", help="Iterations at the target temperature."),
    seed: int = typer.Option(0, "--seed", help="Seed of the symmetry-breaking perturbation."),
    out: Path = typer.Option(Path("runs/tap"), "--out", help="Run directory."),
) -> None:
    """Solve TAP over a temperature grid and locate the paramagnet instability."""
    from spinlens.meanfield import paramagnet_stability, tap_scan
    from spinlens.report import Section, new_figure, write_report

    if not (0 < tmin < tmax) or n_temps < 2:
        raise UserError("need 0 < --tmin < --tmax and --n-temps >= 2.")
    model = load_model_npz(npz)
    T = np.linspace(tmin, tmax, n_temps)
    config = {"npz": str(npz), "tmin": tmin, "tmax": tmax, "n_temps": n_temps, "tol": tol, "max_iter": max_iter,
              "n_spins": model.n_spins, "sparse": model.is_sparse}
    run = open_run(out, config=config, seeds={"seed": seed})
    with console.status("solving TAP on the temperature grid"):
        res = tap_scan(model, 1.0 / T, tol=tol, max_iter=max_iter, rng=seed)
    with console.status("paramagnet stability spectrum"):
        f = paramagnet_stability(model, T)
    neg = T[f < 0]
    t_c = float(neg.max()) if neg.size else float("nan")
    run.save_result(res, "tap_scan")
    run.save_arrays("stability", temperatures=T, f=f)
    t_min = float(T[np.argmin(f)])
    conv = np.asarray(res.converged, dtype=bool)
    mag = np.abs(res.m.mean(axis=1))
    fig, axes = new_figure(1, 2, size=(9.6, 3.8))
    axes[0].plot(T, res.q, "-", color="C0", lw=1.0)
    axes[0].plot(T[conv], res.q[conv], "o", color="C0", ms=4, label="q = mean m_i²")
    axes[0].plot(T, mag, "-", color="C1", lw=1.0)
    axes[0].plot(T[conv], mag[conv], "s", color="C1", ms=4, label="|mean m_i|")
    if np.any(~conv):
        axes[0].plot(T[~conv], res.q[~conv], "o", mfc="none", color="C3", ms=7,
                     label=f"not converged ({int((~conv).sum())})")
        axes[0].plot(T[~conv], mag[~conv], "s", mfc="none", color="C3", ms=7)
    axes[0].set(xlabel="temperature T", ylabel="order parameter", title="TAP solutions (annealed from m ≈ 0)")
    axes[0].legend(frameon=False)
    axes[1].plot(T, f, "-", label="f(T) = λ_min(T I + D/T − J)")
    axes[1].axhline(0.0, color="k", lw=0.8)
    axes[1].axvline(t_min, color="C2", ls=":", lw=1.0, label=f"min f at T = {t_min:.3g}")
    axes[1].set(xlabel="temperature T", ylabel="f(T)", title="paramagnet stability (f < 0: unstable)")
    for ax in axes:
        ax.grid(alpha=0.3)
    if np.isfinite(t_c):
        for ax in axes:
            ax.axvline(t_c, color="C3", ls="--", lw=0.8, label=f"T_c = {t_c:.3g} (f < 0 below)" if ax is axes[1]
                       else None)
    axes[1].legend(frameon=False)
    png = run.save_figure(fig, "tap")
    rows = [
        {"quantity": "spins", "value": model.n_spins},
        {"quantity": "temperatures converged", "value": f"{int(conv.sum())} / {n_temps}"},
        {"quantity": "temperatures not converged", "value": ", ".join(f"{t:.3g}" for t in T[~conv]) or "none"},
        {"quantity": "max residual of converged temperatures",
         "value": float(np.max(res.residual[conv])) if conv.any() else float("nan")},
        {"quantity": "highest T with f(T) < 0 (instability of the paramagnet)", "value": t_c},
        {"quantity": "min f(T)", "value": float(f.min())},
        {"quantity": "T at min f(T) (glass: f touches 0 here)", "value": t_min},
    ]
    run.save_json({r["quantity"]: r["value"] for r in rows}, "summary")
    text = [
        "TAP equations m_i = tanh(βh_i + βΣJ_ij m_j − β² m_i Σ J_ij² (1 − m_j²)) solved at every temperature at once, "
        "annealed from the paramagnet with AMP time indexing and damping.",
        "f(T) < 0 on an interval means an outlier of J destabilises the paramagnet (hidden order, T_c at its upper "
        "end); f touching zero without crossing is the glass signature (SK: f = (√T − 1/√T)²).",
    ]
    write_report(run.path, "TAP over temperature", [Section("TAP scan", text, [("summary", rows)],
                                                             [(png, "order parameters and stability")])],
                 run.manifest)
    console.print(f"T_c estimate (paramagnet instability): {t_c:.4g}; converged {int(res.converged.sum())}/{n_temps}")


def register(app: typer.Typer) -> None:
    app.command("tap")(tap_command)
