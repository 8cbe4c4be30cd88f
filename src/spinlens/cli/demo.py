"""``spinlens demo``: the main job on bundled data.

By default the demo is the flagship, ``spinlens phases`` with its defaults: a 784-256-256-10 ReLU MLP
trained on MNIST-5000 with about 20 log-spaced checkpoints, each mapped to an Ising model and analysed
(glass → hidden order, T_c(t) with a power-law fit, spectra, the initialisation prediction). Re-running into
the same folder resumes finished checkpoints.

``--quick`` runs the same pipeline on a tiny network and the 8×8 digits (seconds). ``--foundation`` (implied
by ``--size`` / ``--n-temps``) runs the foundation self-check instead: exact thermodynamics of a small Ising
torus by enumeration, checked against Kaufman's exact finite-torus partition function and drawn beside
Onsager's infinite-lattice curves.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer

from spinlens.cli._common import SCHEDULER, WORKERS, console, open_run, progress_bar

#: ``--quick``: the flagship pipeline on a tiny network (digits, 64-32-10), for smoke tests.
QUICK: dict[str, Any] = {"dataset": "digits", "n_samples": 600, "widths": "64,32,10", "steps": 60, "n_checkpoints": 6,
         "lr": 0.1, "n_starts": 4, "tap_checkpoints": 2}


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Run directory (re-running resumes it)."),
    quick: bool = typer.Option(False, "--quick", help="Tiny flagship run (digits, 64-32-10 MLP; seconds)."),
    binarized: bool = typer.Option(False, "--binarized", help="Flagship with binarized (sign) activations."),
    foundation: bool = typer.Option(False, "--foundation", help="Run the foundation self-check instead "
                                    "(exact 2D Ising enumeration vs Kaufman and Onsager)."),
    L: int | None = typer.Option(None, "--size", help="--foundation: linear size of the periodic square "
                                 "lattice (L*L <= 25, default 4); implies --foundation."),
    n_temps: int | None = typer.Option(None, "--n-temps", help="--foundation: number of temperatures "
                                       "(default 40); implies --foundation."),
    workers: int = WORKERS,
    scheduler: str | None = SCHEDULER,
) -> None:
    """Run the main job on bundled data (phases of an MLP over training on MNIST-5000) and write report.html."""
    if foundation or L is not None or n_temps is not None:
        _foundation(out, 4 if L is None else L, 40 if n_temps is None else n_temps)
        return
    from spinlens.cli.phases import run_phases

    run_phases(out, binarized=binarized, title_prefix="spinlens demo: ", workers=workers, scheduler=scheduler,
               **(QUICK if quick else {}))


def _foundation(out: Path, L: int, n_temps: int) -> None:
    """Exact thermodynamics of an L×L Ising torus (enumeration vs Kaufman; Onsager beside it)."""
    from spinlens import exact, spins
    from spinlens.report import Section, line_plot, write_report

    temps = np.linspace(1.0, 4.0, n_temps)
    betas = 1.0 / temps
    model = spins.square_lattice(L)
    run = open_run(out, config={"L": L, "temperatures": temps}, seeds={})
    n = model.n_spins
    e, c, logz, logz_k = (np.empty(n_temps) for _ in range(4))
    with progress_bar("exact enumeration", total=n_temps) as bar:
        for i, b in enumerate(betas):
            r = exact.enumerate(model, float(b))
            e[i], c[i], logz[i] = r.energy / n, r.heat_capacity / n, r.log_z
            logz_k[i] = exact.kaufman(L, float(b))
            bar(i + 1, n_temps)
    ons = [exact.onsager(float(b)) for b in betas]
    u_inf = np.array([o.energy for o in ons])
    gap = float(np.max(np.abs(logz - logz_k)))
    run.save_arrays("thermodynamics", T=temps, energy=e, heat_capacity=c, log_z=logz, log_z_kaufman=logz_k)
    f1 = run.save_figure(
        line_plot(temps, {f"{L}x{L} exact": e, "Onsager (L=inf)": u_inf}, "T", "energy per spin",
                  "Energy: exact enumeration vs Onsager", styles={f"{L}x{L} exact": "o-", "Onsager (L=inf)": "k-"}),
        "energy",
    )
    f2 = run.save_figure(line_plot(temps, {f"{L}x{L} exact": c}, "T", "heat capacity per spin",
                                   "Heat capacity (peak near T_c = 2.269)"), "heat_capacity")
    summary = [
        {"quantity": "max |ln Z(enumeration) - ln Z(Kaufman)|", "value": gap},
        {"quantity": "T of the heat-capacity peak", "value": float(temps[np.argmax(c)])},
        {"quantity": "Onsager T_c", "value": float(exact.ONSAGER_TC)},
    ]
    run.save_json({"summary": summary}, "summary")
    write_report(
        run.path,
        "spinlens demo: exact thermodynamics of the 2D Ising model",
        [Section("Exact enumeration vs Kaufman and Onsager",
                 [f"{L}x{L} periodic square lattice, {n_temps} temperatures; enumeration in float64 (Gray code)."],
                 [("summary", summary)], [(f1, "energy per spin"), (f2, "heat capacity per spin")])],
        run.manifest,
    )
    console.print(f"max |ln Z - ln Z_Kaufman| = {gap:.2e};  report: {run.path / 'report.html'}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
