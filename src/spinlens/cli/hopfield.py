"""``spinlens hopfield capacity`` and ``spinlens hopfield phase-diagram``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer

from spinlens.cli._common import SCHEDULER, WORKERS, UserError, console, open_run, progress_bar, sweep_kwargs
from spinlens.cli.ising import parse_list

__all__ = ["register"]


def _fmt_acn(value: float, error: float, flag: str) -> str:
    if flag == "ok":
        return f"{value:.4f} ± {error:.2g}"
    return {"above": "above the scanned loads", "below": "below the scanned loads"}.get(flag, "not resolved")


def capacity(
    sizes: str = typer.Option("200,400,800", help="comma-separated network sizes N (at least 3, each >= 10)"),
    alphas: str = typer.Option("0.10,0.12,0.14,0.16,0.18,0.20,0.22",
                               help="loads P/N, a comma list or start:stop:count (at least 3; they must bracket "
                                    "the retrieval step of every size)"),
    n_tested: int = typer.Option(100, help="patterns tested per (N, alpha)"),
    per_set: int = typer.Option(20, help="tested patterns per independent pattern set"),
    threshold: float = typer.Option(0.9, help="final overlap that counts as retrieval, in (0, 1]"),
    max_sweeps: int = typer.Option(1000, help="sweep limit of the T = 0 dynamics"),
    rule: str = typer.Option("hebb", help="learning rule: hebb, pseudo-inverse or storkey"),
    seed: int = typer.Option(0, help="random seed"),
    out: Path = typer.Option(Path("runs/hopfield-capacity"), help="run directory"),
    workers: int = WORKERS,
    scheduler: str | None = SCHEDULER,
) -> None:
    """Storage capacity vs alpha = P/N at several N, with the finite-size extrapolation of alpha_c."""
    from spinlens.memory import ALPHA_C_AGS, alpha_c, capacity_experiment, capacity_figure
    from spinlens.memory.capacity import check_capacity_grid
    from spinlens.memory.hopfield import check_rule
    from spinlens.report import Section, write_report

    try:
        Ns, As = check_capacity_grid(parse_list(sizes, "--sizes", int).astype(int), parse_list(alphas, "--alphas"))
        check_rule(rule)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    for opt, v in (("--n-tested", n_tested), ("--per-set", per_set), ("--max-sweeps", max_sweeps)):
        if v < 1:
            raise UserError(f"{opt} must be >= 1, got {v}.")
    if not (np.isfinite(threshold) and 0.0 < threshold <= 1.0):
        raise UserError(f"--threshold in (0, 1] is the final overlap that counts as retrieval; got {threshold}.")
    sweep = sweep_kwargs(workers, scheduler)
    config = dict(sizes=Ns, alphas=As, n_tested=n_tested, per_set=per_set, threshold=threshold, max_sweeps=max_sweeps,
                  rule=rule, dynamics="T = 0 asynchronous, started at each tested pattern")
    run = open_run(out, config=config, seeds={"seed": seed})
    with progress_bar("capacity", total=len(Ns) * len(As)) as cb:
        res = capacity_experiment(Ns, As, n_tested=n_tested, per_set=per_set, rule=rule,  # type: ignore[arg-type]
                                  threshold=threshold, max_sweeps=max_sweeps, rng=seed, progress=cb,
                                  sweep={"run_dir": run.path, **sweep})
    run.save_result(res)
    fig = run.save_figure(capacity_figure(res), "capacity")
    rows: list[dict[str, Any]] = [
        {"N": int(n), "alpha_c(N)": float(a), "error": float(e), "status": f}
        for n, a, e, f in zip(res.n_spins, res.alpha_c_n, res.alpha_c_n_error, res.alpha_c_n_flag, strict=True)
    ]
    ac = res.alpha_c
    if np.isfinite(ac.mean):
        ext = (f"Extrapolated alpha_c = {ac.mean:.4f} ± {ac.error:.4f} from {int(res.resolved.sum())} sizes (fit "
               f"alpha_c(N) = alpha_c + a N^-1/2, a = {res.slope:.3f}); replica-symmetric AGS value "
               f"{alpha_c():.4f} (≈ {ALPHA_C_AGS}).")
    else:
        ext = "No extrapolated alpha_c (see the warnings)."
    warnings = [f"Warning: {n}" for n in res.notes]
    summary: list[dict[str, Any]] = [
        {"quantity": "alpha_c extrapolated (N -> inf)",
         "value": f"{ac.mean:.4f} ± {ac.error:.4f}" if np.isfinite(ac.mean) else "not extrapolated"},
        {"quantity": "AGS alpha_c (replica symmetric)", "value": round(alpha_c(), 4)},
        *({"quantity": f"alpha_c(N = {r['N']})", "value": _fmt_acn(r["alpha_c(N)"], r["error"], r["status"])}
          for r in rows),
        {"quantity": "scanned loads", "value": f"{As.min():.4g} .. {As.max():.4g} ({As.size} loads)"},
        {"quantity": "patterns tested per point; retrieval threshold", "value": f"{n_tested}; m_f >= {threshold}"},
    ]
    run.save_json({"summary": summary, "finite_size": rows, "notes": list(res.notes)}, "summary")
    text = [
        ext,
        *warnings,
        f"Retrieval: T = 0 asynchronous dynamics started at a stored pattern ends with overlap >= {res.threshold}; "
        f"{n_tested} patterns tested per (N, alpha), {per_set} per independent pattern set. alpha_c(N) is the "
        "midpoint of a logistic step fitted to the retrieval probability, estimated only where the probability "
        f"falls through 1/2 inside the scanned loads {As.min():.4g} .. {As.max():.4g}.",
    ]
    report = write_report(run.path, "Hopfield storage capacity",
                          [Section("Capacity", text=text, tables=[("summary", summary),
                                                                  ("finite-size capacities", rows)],
                                   figures=[(fig, "retrieval probability vs load, and the finite-size "
                                                  "extrapolation")])],
                          run.manifest)
    console.print("alpha_c(N): " + "; ".join(f"N = {r['N']}: {_fmt_acn(r['alpha_c(N)'], r['error'], r['status'])}"
                                             for r in rows), soft_wrap=True, highlight=False)
    if np.isfinite(ac.mean):
        console.print(f"alpha_c(N -> inf) = {ac.mean:.4f} ± {ac.error:.4f} (AGS {alpha_c():.4f})", highlight=False)
    for n in res.notes:
        console.print(f"[yellow]warning:[/yellow] {n}", soft_wrap=True, highlight=False)
    console.print(f"report: {report}", soft_wrap=True, highlight=False)


def phase_diagram_cmd(
    n_spins: int = typer.Option(300, help="network size N"),
    alphas: str = typer.Option("", help="loads, a comma list or start:stop:count (default 0.01..0.18 step 0.01)"),
    temperatures: str = typer.Option("", help="temperatures, a comma list or start:stop:count (default 0.05..1.5 "
                                     "step 0.05)"),
    n_trials: int = typer.Option(2, help="independent pattern sets per grid point"),
    n_sweeps: int = typer.Option(60, help="Glauber sweeps per run (overlap averaged over the second half)"),
    n_lines: int = typer.Option(25, help="loads at which the AGS lines are solved (~0.7 s each)"),
    seed: int = typer.Option(0, help="random seed"),
    out: Path = typer.Option(Path("runs/hopfield-phase-diagram"), help="run directory"),
    workers: int = WORKERS,
    scheduler: str | None = SCHEDULER,
) -> None:
    """alpha–T phase diagram from Glauber simulations, drawn against the AGS replica-symmetric lines."""
    from spinlens.memory import alpha_c, phase_diagram, phase_diagram_figure
    from spinlens.memory.ags import phase_diagram_grid
    from spinlens.report import Section, write_report

    try:
        A, Ts = phase_diagram_grid(parse_list(alphas, "--alphas") if alphas else None,
                                   parse_list(temperatures, "--temperatures") if temperatures else None)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    for opt, v, low in (("--n-trials", n_trials, 1), ("--n-sweeps", n_sweeps, 1), ("--n-spins", n_spins, 2),
                        ("--n-lines", n_lines, 2)):
        if v < low:
            raise UserError(f"{opt} must be >= {low}, got {v}.")
    cfg = dict(n_spins=n_spins, alphas=A, temperatures=Ts, n_trials=n_trials, n_sweeps=n_sweeps, n_lines=n_lines,
               rule="hebb", dynamics="heat bath (Glauber) started at pattern 1, overlap averaged over the second "
                                     "half of the sweeps")
    run = open_run(out, config=cfg, seeds={"seed": seed})
    with progress_bar("phase diagram (loads)", total=None) as cb:
        res = phase_diagram(A, Ts, n_spins=n_spins, n_trials=n_trials, n_sweeps=n_sweeps, rng=seed, progress=cb,
                            n_lines=n_lines, sweep={"run_dir": run.path, **sweep_kwargs(workers, scheduler)})
    run.save_result(res)
    fig = run.save_figure(phase_diagram_figure(res), "phase_diagram")
    # key number: the largest load still retrieved (m >= 0.9) at the lowest simulated temperature
    cold = res.m[0]
    kept = res.alphas[cold >= 0.9]
    reach = (f"{float(kept.max()):.4g}" if kept.size else "none") + f" (AGS alpha_c = {alpha_c():.4f} at T = 0)"
    summary: list[dict[str, Any]] = [
        {"quantity": "grid", "value": f"{A.size} loads {A.min():.4g} .. {A.max():.4g} × {Ts.size} temperatures "
                                      f"{Ts.min():.4g} .. {Ts.max():.4g}, N = {n_spins}, {n_trials} trial(s)"},
        {"quantity": f"largest load with m >= 0.9 at T = {Ts[0]:.4g}", "value": reach},
    ]
    run.save_json({"summary": summary}, "summary")
    text = [
        "Colour: overlap with the initial pattern after Glauber dynamics at temperature T (a stored pattern is the "
        "initial state). Lines: AGS replica-symmetric theory — T_M where retrieval states disappear (the "
        "simulated boundary should follow it), T_c below which they are global minima, T_g = 1 + sqrt(alpha).",
    ]
    if n_trials == 1:
        text.append("One trial per grid point: the overlaps carry no error bar (m_error is NaN).")
    report = write_report(run.path, "Hopfield phase diagram",
                          [Section("alpha–T phase diagram", text=text, tables=[("summary", summary)],
                                   figures=[(fig, "simulation vs AGS lines")])],
                          run.manifest)
    console.print(f"{A.size} × {Ts.size} grid, N = {n_spins}; largest load with m >= 0.9 at T = {Ts[0]:.4g}: "
                  f"{reach}", soft_wrap=True, highlight=False)
    console.print(f"report: {report}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Hopfield networks: storage capacity and the alpha–T phase diagram.",
                      no_args_is_help=True)
    sub.command("capacity")(capacity)
    sub.command("phase-diagram")(phase_diagram_cmd)
    app.add_typer(sub, name="hopfield")
