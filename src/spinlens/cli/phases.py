"""``spinlens phases``: a network's magnetic phases over training (glass → hidden order, T_c(t), spectra)."""
from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import Any

import typer

from spinlens.cli._common import SCHEDULER, WORKERS, UserError, console, open_run, progress_bar, sweep_kwargs

__all__ = ["register", "phases", "run_phases"]


def run_phases(out: Path | str = Path("runs/phases"), *, title_prefix: str = "", **options: Any) -> Any:
    """The whole ``spinlens phases`` job (also what ``spinlens demo`` runs); returns the ExperimentResult.

    ``options`` are the options of ``spinlens phases`` by parameter name (``steps=300``, ``binarized=True``, ...);
    those not given take the command's defaults, which are defined once, on :func:`phases`.
    """
    defaults = _command_defaults()
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise TypeError(f"run_phases() got unknown options {unknown}; known: {sorted(defaults)}.")
    return _run_phases(Path(out), title_prefix, **{**defaults, **options})


def _command_defaults() -> dict[str, Any]:
    """The defaults of :func:`phases` (Typer ``OptionInfo`` unwrapped), except ``out``."""
    out = {}
    for name, p in inspect.signature(phases).parameters.items():
        if name != "out":
            out[name] = p.default.default if isinstance(p.default, typer.models.OptionInfo) else p.default
    return out


def _run_phases(
    out: Path,
    title_prefix: str,
    *,
    binarized: bool,
    lazy: bool,
    lazy_scale: float,
    checkpoints: Path | None,
    model: str | None,
    widths: str,
    dataset: str,
    n_samples: int | None,
    steps: int,
    n_checkpoints: int,
    lr: float,
    optimizer: str,
    batch_size: int,
    n_starts: int,
    tap_checkpoints: int,
    seed: int,
    mc_check: bool,
    mc_sweeps: int,
    workers: int,
    scheduler: str | None,
) -> Any:
    """Body of :func:`run_phases` with every option given.

    Defaults (on :func:`phases`): a 784-256-256-10 ReLU MLP trained with SGD (momentum 0.9) on MNIST-5000 for
    2000 steps, 20 log-spaced checkpoints. Re-running into the same ``out`` resumes finished checkpoints and
    analyses. ``mc_check``: parallel-tempering cross-check of the last checkpoint's transition (small networks
    only). ``workers`` / ``scheduler``: where the per-checkpoint analyses run (local pool by default, or Dask).
    """
    from spinlens.networks.experiment import (
        ExperimentConfig,
        _load_network,
        analyze_checkpoints,
        config_dict,
        experiment_figures,
        experiment_sections,
        list_checkpoints,
        load_builder,
        summarize,
        train_checkpoints,
    )
    from spinlens.report import write_report

    t0 = time.perf_counter()
    try:
        w = tuple(int(x) for x in widths.split(","))
    except ValueError:
        raise UserError(f"--widths must be comma-separated integers, got {widths!r}.") from None
    if model and not checkpoints:
        raise UserError("--model needs --checkpoints DIR (the folder with your state dicts).")
    if lazy and not lazy_scale > 0:
        raise UserError(f"--lazy-scale must be positive, got {lazy_scale}.")
    cfg = ExperimentConfig(
        widths=w, activation="sign" if binarized else "relu", dataset=dataset, n_samples=n_samples, steps=steps,
        optimizer=optimizer, lr=lr, batch_size=batch_size, n_checkpoints=n_checkpoints,
        lazy_scale=lazy_scale if lazy else None, seed=seed, n_starts=n_starts, n_tap_checkpoints=tap_checkpoints,
        checkpoint_dir=str(checkpoints) if checkpoints else None, model_builder=model,
    )
    sweep = sweep_kwargs(workers, scheduler)
    if mc_check and not checkpoints and sum(w) > _MC_MAX_SPINS:
        raise UserError(f"--mc-check is for small networks (at most {_MC_MAX_SPINS} spins); {widths} has {sum(w)}.")
    run = open_run(out, config=config_dict(cfg), seeds={"seed": seed})
    if checkpoints:
        ckdir = Path(checkpoints)
        cks = list_checkpoints(ckdir)
    else:
        ckdir = run.path / "checkpoints"
        with progress_bar("training", steps) as cb:
            cks = train_checkpoints(cfg, ckdir, progress=cb)
    with progress_bar("phase analysis (checkpoints)", len(cks)) as cb:
        records = analyze_checkpoints(cfg, cks, run.path, progress=cb, class_alignment=not checkpoints, sweep=sweep)
    builder = load_builder(model) if model else None
    result = summarize(records, ckdir, _load_network(cks[0][1], builder))
    run.save_result(result, "results")
    run.save_json(records, "checkpoints_analysis")
    paths = {name: run.save_figure(fig, name) for name, fig in experiment_figures(result, run.path).items()}
    mc_sections = [_mc_section(run, result, cks[-1][1], builder, mc_sweeps, seed)] if mc_check else []
    elapsed = time.perf_counter() - t0
    sections = experiment_sections(result, records, paths, elapsed) + mc_sections
    title = (title_prefix + "Phases over training" + (" (binarized)" if binarized else "")
             + (" (lazy control)" if lazy else ""))
    report = write_report(run.path, title, sections, run.manifest)
    fit = result.fit
    console.print(f"init: predicted T_c = {result.init_prediction:.4g}, measured {result.init_measured:.4g} "
                  f"({result.phases[0]}); final: {result.phases[-1]}, T_c = {result.t_c[-1]:.4g}")
    if fit is not None:
        console.print(f"T_c ∝ t^{fit.exponent:.3f}  (95% CI {fit.exponent_ci[0]:.3f}..{fit.exponent_ci[1]:.3f}, "
                      f"steps {fit.t_start:.0f}-{fit.t_end:.0f})")
    console.print(f"[bold]report:[/bold] {report}  ({elapsed:.0f} s)")
    return result


_MC_MAX_SPINS = 600


def _mc_section(run: Any, result: Any, path: Path, builder: Any, n_sweeps: int, seed: int) -> Any:
    """Parallel tempering on the last checkpoint over T / T_c in [0.6, 1.7]: Binder parameter, chi_SG, P(q)."""
    import numpy as np

    from spinlens.networks.experiment import _load_network
    from spinlens.networks.phases import mc_crosscheck
    from spinlens.networks.to_spins import to_spins
    from spinlens.report import Section, new_figure

    mapped = to_spins(_load_network(path, builder))
    n = mapped.model.n_spins
    if n > _MC_MAX_SPINS:
        raise UserError(f"--mc-check is for small networks (at most {_MC_MAX_SPINS} spins); this one has {n}.")
    t_c = float(result.t_c[-1])
    if not np.isfinite(t_c):
        t_c = float(result.t_star[-1])
    ratios = np.geomspace(0.6, 1.7, 12)
    with progress_bar("Monte Carlo cross-check", n_sweeps) as cb:
        mc = mc_crosscheck(mapped.model, ratios * t_c, n_sweeps=n_sweeps, rng=seed + 7, progress=cb)
    run.save_arrays("mc_crosscheck", temperatures=mc.temperatures, binder=mc.binder, chi_sg=mc.chi_sg,
                    q_edges=mc.q_edges, p_q=mc.p_q)
    fig, axes = new_figure(1, 2, size=(9.6, 3.6))
    x = mc.temperatures / t_c
    axes[0].plot(x, mc.binder, "o-", ms=3, label="overlap Binder g")
    axes[0].axvline(1.0, color="k", ls="--", lw=0.8, label="T_c (TAP stability)")
    axes[0].set(xscale="log", xlabel="T / T_c", ylabel="g", title=f"parallel tempering, step {int(result.steps[-1])}")
    ax2 = axes[0].twinx()
    ax2.plot(x, mc.chi_sg, "s:", ms=3, color="tab:red")
    ax2.set(ylabel="χ_SG = n⟨q²⟩ (red)", yscale="log")
    axes[0].legend(frameon=False, fontsize=8)
    centers = 0.5 * (mc.q_edges[1:] + mc.q_edges[:-1])
    for k in sorted({0, len(x) // 2, len(x) - 1}):
        axes[1].plot(centers, mc.p_q[k], "-", label=f"T = {x[k]:.2f} T_c")
    axes[1].set(xlabel="q", ylabel="P(q)", title="replica overlap distribution")
    axes[1].legend(frameon=False, fontsize=8)
    fpath = run.save_figure(fig, "mc_crosscheck")
    above = np.abs(mc.binder[x > 1.05])
    rows = [{"T / T_c": float(a), "T": float(t), "Binder g": float(g), "χ_SG": float(c)}
            for a, t, g, c in zip(x, mc.temperatures, mc.binder, mc.chi_sg, strict=True)]
    text = [
        f"Parallel tempering ({n_sweeps} sweeps, 4 replicas per temperature) on the last checkpoint ({n} spins), "
        f"T_c = {t_c:.4g} from the stability curve. "
        + (f"Order sets in (g > 0.5) at T = {mc.t_onset:.4g} ({mc.t_onset / t_c:.2f} T_c); "
           if np.isfinite(mc.t_onset) else "g stays below 0.5 down to 0.6 T_c; ")
        + f"above T_c the largest |g| is {above.max():.2f} (paramagnet: g ≈ 0). "
        "In a network this small the finite-size onset lies below the mean-field T_c."
    ]
    return Section("Monte Carlo cross-check", text=text, tables=[("Binder parameter and χ_SG", rows)],
                   figures=[(fpath, "Binder parameter, χ_SG and P(q) around the TAP T_c")])


def phases(
    out: Path = typer.Option(Path("runs/phases"), "--out", help="Run directory (re-running resumes it)."),
    binarized: bool = typer.Option(False, "--binarized", help="Binarized (sign, straight-through) activations."),
    lazy: bool = typer.Option(False, "--lazy", help="Lazy-training control: output scale alpha, lr / alpha^2."),
    lazy_scale: float = typer.Option(100.0, "--lazy-scale", help="alpha for --lazy."),
    checkpoints: Path | None = typer.Option(None, "--checkpoints", help="Analyse your own checkpoint folder."),
    model: str | None = typer.Option(None, "--model", help="module:builder returning the nn.Sequential "
                                     "for --checkpoints (optional for plain Linear state dicts)."),
    widths: str = typer.Option("784,256,256,10", "--widths", help="Layer widths, input first."),
    dataset: str = typer.Option("mnist5000", "--dataset", help="digits, mnist5000 or an .npz file."),
    n_samples: int | None = typer.Option(None, "--n-samples", help="Use only the first N samples."),
    steps: int = typer.Option(2000, "--steps", help="Training steps."),
    n_checkpoints: int = typer.Option(20, "--n-checkpoints", help="Log-spaced checkpoints (incl. step 0)."),
    lr: float = typer.Option(0.05, "--lr", help="Learning rate."),
    optimizer: str = typer.Option("sgd", "--optimizer", help="sgd (momentum 0.9) or adam."),
    batch_size: int = typer.Option(128, "--batch-size"),
    n_starts: int = typer.Option(8, "--n-starts", help="Random TAP starts per probed checkpoint."),
    tap_checkpoints: int = typer.Option(5, "--tap-checkpoints", help="Checkpoints that get TAP evidence."),
    seed: int = typer.Option(0, "--seed"),
    mc_check: bool = typer.Option(False, "--mc-check", help=f"Parallel-tempering cross-check of the last "
                                  f"checkpoint's transition (networks of at most {_MC_MAX_SPINS} spins)."),
    mc_sweeps: int = typer.Option(3000, "--mc-sweeps", help="Sweeps for --mc-check."),
    workers: int = WORKERS,
    scheduler: str | None = SCHEDULER,
) -> None:
    """Train an MLP (default 784-256-256-10 ReLU on MNIST-5000) and follow its spin-model phase over training."""
    options = {k: v for k, v in locals().items() if k != "out"}  # exactly the parameters above
    _run_phases(out, "", **options)


def register(app: typer.Typer) -> None:
    """Add ``phases`` to the ``spinlens`` app."""
    app.command("phases")(phases)
