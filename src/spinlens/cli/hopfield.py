"""``spinlens hopfield capacity`` and ``spinlens hopfield phase-diagram``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from spinlens.cli._common import SCHEDULER, WORKERS, open_run, progress_bar, sweep_kwargs

__all__ = ["register"]


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def capacity(
    sizes: str = typer.Option("200,400,800", help="comma-separated network sizes N"),
    alphas: str = typer.Option("0.10,0.12,0.14,0.16,0.18,0.20,0.22", help="comma-separated loads P/N"),
    n_tested: int = typer.Option(100, help="patterns tested per (N, alpha)"),
    rule: str = typer.Option("hebb", help="learning rule: hebb, pseudo-inverse or storkey"),
    seed: int = typer.Option(0, help="random seed"),
    out: Path = typer.Option(Path("runs/hopfield-capacity"), help="run directory"),
    workers: int = WORKERS,
    scheduler: str | None = SCHEDULER,
) -> None:
    """Storage capacity vs alpha = P/N at several N, with the finite-size extrapolation of alpha_c."""
    from spinlens.memory import ALPHA_C_AGS, alpha_c, capacity_experiment, capacity_figure
    from spinlens.report import Section, write_report

    Ns, As = _ints(sizes), _floats(alphas)
    run = open_run(out, config=dict(sizes=Ns, alphas=As, n_tested=n_tested, rule=rule), seeds={"seed": seed})
    with progress_bar("capacity", total=len(Ns) * len(As)) as cb:
        res = capacity_experiment(Ns, As, n_tested=n_tested, rule=rule, rng=seed, progress=cb,  # type: ignore[arg-type]
                                  sweep={"run_dir": run.path, **sweep_kwargs(workers, scheduler)})
    run.save_result(res)
    fig = run.save_figure(capacity_figure(res), "capacity")
    rows = [{"N": int(n), "alpha_c(N)": float(a), "error": float(e)}
            for n, a, e in zip(res.n_spins, res.alpha_c_n, res.alpha_c_n_error, strict=False)]
    text = [
        f"Extrapolated alpha_c = {res.alpha_c.mean:.4f} ± {res.alpha_c.error:.4f} "
        "(fit alpha_c(N) = alpha_c + a N^-1/2, "
        f"a = {res.slope:.3f}); replica-symmetric AGS value {alpha_c():.4f} (≈ {ALPHA_C_AGS}).",
        f"Retrieval: T = 0 asynchronous dynamics started at a stored pattern ends with overlap >= {res.threshold}.",
    ]
    write_report(run.path, "Hopfield storage capacity",
                 [Section("Capacity", text=text, tables=[("finite-size capacities", rows)],
                          figures=[(fig, "retrieval probability vs load, and the finite-size extrapolation")])],
                 run.manifest)


def phase_diagram_cmd(
    n_spins: int = typer.Option(300, help="network size N"),
    alphas: str = typer.Option("", help="comma-separated loads (default 0.01..0.18 step 0.01)"),
    temperatures: str = typer.Option("", help="comma-separated temperatures (default 0.05..1.5 step 0.05)"),
    n_trials: int = typer.Option(2, help="independent pattern sets per grid point"),
    n_sweeps: int = typer.Option(60, help="Glauber sweeps per run (overlap averaged over the second half)"),
    n_lines: int = typer.Option(25, help="loads at which the AGS lines are solved (~0.7 s each)"),
    seed: int = typer.Option(0, help="random seed"),
    out: Path = typer.Option(Path("runs/hopfield-phase-diagram"), help="run directory"),
    workers: int = WORKERS,
    scheduler: str | None = SCHEDULER,
) -> None:
    """alpha–T phase diagram from Glauber simulations, drawn against the AGS replica-symmetric lines."""
    from spinlens.memory import phase_diagram, phase_diagram_figure
    from spinlens.report import Section, write_report

    A = np.asarray(_floats(alphas)) if alphas else None
    Ts = np.asarray(_floats(temperatures)) if temperatures else None
    cfg = dict(n_spins=n_spins, alphas=alphas or "default", temperatures=temperatures or "default",
               n_trials=n_trials, n_sweeps=n_sweeps, n_lines=n_lines)
    run = open_run(out, config=cfg, seeds={"seed": seed})
    with progress_bar("phase diagram (loads)", total=None) as cb:
        res = phase_diagram(A, Ts, n_spins=n_spins, n_trials=n_trials, n_sweeps=n_sweeps, rng=seed, progress=cb,
                            n_lines=n_lines, sweep={"run_dir": run.path, **sweep_kwargs(workers, scheduler)})
    run.save_result(res)
    fig = run.save_figure(phase_diagram_figure(res), "phase_diagram")
    text = [
        "Colour: overlap with the initial pattern after Glauber dynamics at temperature T (a stored pattern is the "
        "initial state). Lines: AGS replica-symmetric theory — T_M where retrieval states disappear (the "
        "simulated boundary should follow it), T_c below which they are global minima, T_g = 1 + sqrt(alpha).",
    ]
    write_report(run.path, "Hopfield phase diagram",
                 [Section("alpha–T phase diagram", text=text, figures=[(fig, "simulation vs AGS lines")])],
                 run.manifest)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Hopfield networks: storage capacity and the alpha–T phase diagram.",
                      no_args_is_help=True)
    sub.command("capacity")(capacity)
    sub.command("phase-diagram")(phase_diagram_cmd)
    app.add_typer(sub, name="hopfield")
