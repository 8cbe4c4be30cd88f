"""``spinlens perceptron capacity``: Gardner's capacity by exact LP feasibility beside Cover's counting."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer

from spinlens.cli._common import SCHEDULER, WORKERS, UserError, console, open_run, progress_bar, sweep_kwargs
from spinlens.cli.ising import parse_list

__all__ = ["register"]


def capacity(
    sizes: str = typer.Option("20,40,60,80,100", help="comma-separated input dimensions N (at least 3, each >= 2)"),
    n_trials: int = typer.Option(100, help="trials per size (each measures P*, the patterns stored before the "
                                           "first non-separable set)"),
    patterns: str = typer.Option("binary", help="pattern entries: binary (random ±1) or gaussian"),
    exponent: float = typer.Option(1.0, help="finite-size form alpha_c(N) = alpha_c + a N^-exponent"),
    seed: int = typer.Option(0, help="random seed"),
    out: Path = typer.Option(Path("runs/perceptron-capacity"), help="run directory"),
    workers: int = WORKERS,
    scheduler: str | None = SCHEDULER,
) -> None:
    """Storage capacity of the perceptron: separable fraction vs alpha = P/N (LP) against Cover, alpha_c -> 2."""
    from spinlens.memory import gardner_capacity, perceptron_capacity, perceptron_capacity_figure
    from spinlens.report import Section, write_report

    Ns = parse_list(sizes, "--sizes", int).astype(int)
    if Ns.size < 3 or np.unique(Ns).size != Ns.size or np.any(Ns < 2):
        raise UserError(f"--sizes needs at least 3 distinct sizes N >= 2, got {Ns.tolist()}.")
    if n_trials < 2:
        raise UserError(f"--n-trials must be >= 2 (the error bar of alpha_c(N) needs two trials), got {n_trials}.")
    if patterns not in ("binary", "gaussian"):
        raise UserError(f"--patterns must be binary or gaussian, got {patterns!r}.")
    if not (np.isfinite(exponent) and exponent > 0):
        raise UserError(f"--exponent must be a finite number > 0, got {exponent}.")
    sweep = sweep_kwargs(workers, scheduler)
    config = dict(sizes=sorted(Ns.tolist()), n_trials=n_trials, patterns=patterns, exponent=exponent,
                  method="exact LP feasibility (scipy.optimize.linprog, HiGHS), bisection over nested pattern sets")
    run = open_run(out, config=config, seeds={"seed": seed})
    with progress_bar("perceptron capacity", total=None) as cb:
        res = perceptron_capacity(Ns.tolist(), n_trials=n_trials, patterns=patterns,  # type: ignore[arg-type]
                                  exponent=exponent, rng=seed, progress=cb, sweep={"run_dir": run.path, **sweep})
    run.save_result(res)
    fig = run.save_figure(perceptron_capacity_figure(res), "capacity")
    rows: list[dict[str, Any]] = [
        {"N": int(N), "alpha_c(N) = <P*>/N": round(float(a), 4), "error": round(float(e), 4),
         "chi-square p (P* vs Cover)": round(float(p), 4)}
        for N, a, e, p in zip(res.n_inputs, res.alpha_c_n, res.alpha_c_n_error, res.chi2_pvalue, strict=True)
    ]
    ac = res.alpha_c
    summary: list[dict[str, Any]] = [
        {"quantity": "alpha_c extrapolated (N -> inf)", "value": f"{ac.mean:.4f} ± {ac.error:.4f}"},
        {"quantity": "Gardner alpha_c (kappa = 0)", "value": gardner_capacity(0.0)},
        {"quantity": "finite-size form", "value": f"alpha_c + a N^-{exponent:g}, a = {res.slope:.3f}"},
        {"quantity": "trials per size; patterns", "value": f"{n_trials}; {patterns}"},
    ]
    run.save_json({"summary": summary, "finite_size": rows, "notes": list(res.notes)}, "summary")
    text = [
        f"Extrapolated alpha_c = {ac.mean:.4f} ± {ac.error:.4f} (Gardner 2; Cover: E[P*] = 2N at every N for "
        "patterns in general position).",
        *(f"Warning: {n}" for n in res.notes),
        "Each trial draws random patterns with random ±1 labels and finds P*, the largest number of them that a "
        "hyperplane through the origin separates, by bisection with an exact linear program per step. The "
        "measured fraction P(P* >= alpha N) is drawn against Cover's exact C(P, N)/2^P; the chi-square column "
        "tests the P* histogram against Cover's negative-binomial law.",
    ]
    report = write_report(run.path, "Perceptron storage capacity",
                          [Section("Capacity", text=text, tables=[("summary", summary),
                                                                  ("finite-size capacities", rows)],
                                   figures=[(fig, "separable fraction vs load (LP, Cover), and the finite-size "
                                                  "extrapolation")])],
                          run.manifest)
    console.print("alpha_c(N): " + "; ".join(f"N = {r['N']}: {r['alpha_c(N) = <P*>/N']:.4f} ± {r['error']:.4f}"
                                             for r in rows), soft_wrap=True, highlight=False)
    console.print(f"alpha_c(N -> inf) = {ac.mean:.4f} ± {ac.error:.4f} (Gardner 2)", highlight=False)
    for n in res.notes:
        console.print(f"[yellow]warning:[/yellow] {n}", soft_wrap=True, highlight=False)
    console.print(f"report: {report}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Perceptrons: storage capacity (Cover's counting, Gardner's alpha_c = 2).",
                      no_args_is_help=True)
    sub.command("capacity")(capacity)
    app.add_typer(sub, name="perceptron")
