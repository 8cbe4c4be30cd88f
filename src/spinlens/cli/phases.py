"""``spinlens phases``: a network's magnetic phases over training (glass → hidden order, T_c(t), spectra)."""
from __future__ import annotations

import dataclasses
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


#: Options that describe training: refused with --checkpoints (nothing is trained there).
_TRAINING_OPTIONS = {"steps": "--steps", "n_checkpoints": "--n-checkpoints", "lr": "--lr", "optimizer": "--optimizer",
                     "batch_size": "--batch-size", "lazy_scale": "--lazy-scale", "binarized": "--binarized",
                     "lazy": "--lazy", "arch": "--arch", "channels": "--channels", "blocks": "--blocks",
                     "test_fraction": "--test-fraction", "preset": "--preset"}


def _ints(text: str | None, flag: str, example: str) -> tuple[int, ...] | None:
    """``"1,28,28"`` (or ``1x28x28``) as a tuple of positive ints; None stays None."""
    if text is None:
        return None
    try:
        out = tuple(int(x) for x in text.replace("x", ",").replace("×", ",").split(","))
    except ValueError:
        out = ()
    if not out or any(v < 1 for v in out):
        raise UserError(f"{flag} must be comma-separated positive integers such as {example}, got {text!r}.")
    return out


def _run_phases(
    out: Path,
    title_prefix: str,
    *,
    binarized: bool,
    lazy: bool,
    lazy_scale: float | None,
    checkpoints: Path | None,
    model: str | None,
    steps_from: Path | None,
    widths: str | None,
    arch: str | None,
    channels: str | None,
    blocks: int | None,
    input_shape: str | None,
    test_fraction: float | None,
    preset: str | None,
    dataset: str | None,
    n_samples: int | None,
    steps: int | None,
    n_checkpoints: int | None,
    lr: float | None,
    optimizer: str | None,
    batch_size: int | None,
    n_starts: int,
    tap_checkpoints: int,
    null_models: bool,
    n_seeds: int,
    compare: bool,
    census: bool,
    seed: int,
    mc_check: bool,
    mc_sweeps: int,
    workers: int,
    scheduler: str | None,
) -> Any:
    """Body of :func:`run_phases` with every option given (None: not given).

    Training (no ``checkpoints``): the options left unset take the defaults of :class:`ExperimentConfig` (a
    784-256-256-10 ReLU MLP trained with SGD, momentum 0.9, on MNIST-5000 for 2000 steps, 20 log-spaced
    checkpoints). The user's ``checkpoints``: training options are refused (nothing is trained), ``widths`` is
    checked against the checkpoints, ``dataset`` gives accuracy (with ``model``) and class alignment. Re-running into
    the same ``out`` resumes finished checkpoints and analyses. ``mc_check``: parallel-tempering cross-check of the
    last checkpoint's transition (small networks only). ``workers`` / ``scheduler``: where the per-checkpoint
    analyses run (local pool by default, or Dask).
    """
    from spinlens.networks.compare import comparison_figures, comparison_section, variant_configs
    from spinlens.networks.experiment import (
        PRESETS,
        ExperimentConfig,
        analyze_checkpoints,
        build_network,
        check_checkpoints,
        config_dict,
        experiment_checkpoints,
        experiment_figures,
        experiment_sections,
        fit_text,
        init_text,
        load_builder,
        network_graph,
        reference_graph,
        summarize_run,
    )
    from spinlens.networks.seeds import seed_configs, seed_dir, seed_figures, seed_section, summarize_seeds
    from spinlens.report import write_report

    t0 = time.perf_counter()
    w = _ints(widths, "--widths", "784,256,10")
    chans = _ints(channels, "--channels", "16,32")
    shape = _ints(input_shape, "--input-shape", "1,28,28")
    given = dict(steps=steps, n_checkpoints=n_checkpoints, lr=lr, optimizer=optimizer, batch_size=batch_size,
                 lazy_scale=lazy_scale, binarized=binarized or None, lazy=lazy or None, arch=arch, channels=chans,
                 blocks=blocks, test_fraction=test_fraction, preset=preset)
    given = {k: v for k, v in given.items() if v is not None}
    if n_seeds < 1:
        raise UserError(f"--seeds must be a positive number of seeds, got {n_seeds}.")
    if compare and (checkpoints or binarized or lazy or (arch not in (None, "mlp"))):
        what = "--checkpoints" if checkpoints else "--binarized" if binarized else "--lazy" if lazy else "--arch"
        raise UserError(f"--compare trains the ReLU, binarized and lazy-control MLPs itself: drop {what}.")
    if checkpoints and n_seeds > 1:
        raise UserError("--seeds trains one run per seed; your --checkpoints are one run: drop --seeds.")
    if checkpoints:
        if given:
            flags = ", ".join(_TRAINING_OPTIONS[k] for k in given)
            raise UserError(f"{flags} describe{'s' if len(given) == 1 else ''} training; with --checkpoints spinlens "
                            f"analyses your checkpoints and trains nothing: drop {flags}.")
        if n_samples is not None and dataset is None:
            raise UserError("--n-samples selects samples of --dataset: give --dataset too, or drop --n-samples.")
        if shape is not None and not model:
            raise UserError("--input-shape is the input of the module of --model: a state dict alone is read as a "
                            "chain of Linear layers, which has no input shape to give. Add --model, or drop "
                            "--input-shape.")
    else:
        if preset is not None and preset not in PRESETS:
            raise UserError(f"--preset must be one of {', '.join(PRESETS)}, got {preset!r}.")
        if preset is not None and arch not in (None, "mlp"):
            raise UserError(f"--preset {preset} is an MLP set-up; --arch {arch} does not apply to it.")
        if shape is not None:
            raise UserError("--input-shape is the input of your module (--checkpoints with --model); the networks "
                            "spinlens trains take the dataset's samples flat: drop --input-shape.")
        a = arch or "mlp"
        if a not in ExperimentConfig.ARCHS:
            raise UserError(f"--arch must be one of {', '.join(ExperimentConfig.ARCHS)}, got {arch!r}.")
        if a != "mlp" and w is not None:
            raise UserError(f"--widths sets the layers of an MLP; --arch {a} is set by --channels"
                            f"{' and --blocks' if a == 'resnet' else ''}: drop --widths.")
        if a == "mlp" and (chans is not None or blocks is not None):
            flag = "--channels" if chans is not None else "--blocks"
            raise UserError(f"{flag} describes --arch cnn or resnet, not the MLP (whose layers --widths sets): add "
                            f"--arch cnn or --arch resnet, or drop {flag}.")
        if a == "cnn" and blocks is not None:
            raise UserError("--blocks sets the residual blocks of --arch resnet; the cnn has none: drop --blocks.")
        want = {"cnn": 2, "resnet": 1}.get(a)
        if want and chans is not None and len(chans) != want:
            what = "two numbers, c1,c2" if want == 2 else "one number, the width"
            raise UserError(f"--channels for --arch {a} is {what}; got {channels!r}.")
        if blocks is not None and blocks < 1:
            raise UserError(f"--blocks must be a positive integer, got {blocks}.")
        if test_fraction is not None and not 0 <= test_fraction < 1:
            raise UserError(f"--test-fraction must lie in [0, 1) (0: train on every sample), got {test_fraction}.")
        if model:
            raise UserError("--model needs --checkpoints DIR (the folder with your state dicts).")
        if steps_from:
            raise UserError("--steps-from maps the files of --checkpoints DIR to steps: give --checkpoints too.")
    if lazy_scale is not None and not lazy:
        raise UserError("--lazy-scale sets the output scale of --lazy training: add --lazy, or drop --lazy-scale.")
    if lazy and lazy_scale is not None and not lazy_scale > 0:
        raise UserError(f"--lazy-scale must be positive, got {lazy_scale}.")
    # a preset's values first, then every option given on the command line
    training: dict[str, Any] = dict(PRESETS[preset], preset=preset) if preset and not checkpoints else {}
    training.update({k: v for k, v in given.items()
                     if k not in ("binarized", "lazy", "lazy_scale", "blocks", "test_fraction", "preset")})
    if test_fraction is not None:
        training["test_fraction"] = test_fraction or None  # 0: no held-out samples
    preset_dataset = training.pop("dataset", None)
    training["widths"] = w or training.get("widths", ExperimentConfig().widths)
    cfg = ExperimentConfig(
        **training, n_blocks=blocks, input_shape=shape,
        activation="sign" if binarized else "relu",
        dataset=dataset if dataset is not None else preset_dataset, n_samples=n_samples,
        lazy_scale=(lazy_scale or 100.0) if lazy else None, seed=seed, n_starts=n_starts,
        n_tap_checkpoints=tap_checkpoints, null_models=null_models,
        checkpoint_dir=str(checkpoints.resolve()) if checkpoints else None,
        model_builder=model, steps_from=str(steps_from) if steps_from else None,
    )
    sweep = sweep_kwargs(workers, scheduler)
    if mc_check and not checkpoints:
        n_spins = network_graph(cfg, build_network(cfg)).n_spins
        if n_spins > _MC_MAX_SPINS:
            raise UserError(f"--mc-check is for small networks (at most {_MC_MAX_SPINS} spins); this "
                            f"{cfg.arch} has {n_spins}.")
    if model:
        load_builder(model)  # the user's code is imported (and refused) before anything is written
    if checkpoints:  # read and check the checkpoints before the run directory is made
        ckdir, cks = experiment_checkpoints(cfg, out)
        found = check_checkpoints(cfg, cks)  # the first checkpoint and the dataset, before anything is written
        if w is not None:
            if tuple(found) != w:
                raise UserError(f"--widths {widths} contradicts the checkpoints, whose layers have widths "
                                f"{','.join(map(str, found))}: drop --widths (it is read from the checkpoints).")
    variants = variant_configs(cfg) if compare else {"": cfg}  # label -> configuration ("": a single run)
    configs = seed_configs(cfg, n_seeds) if not checkpoints else [cfg]
    extra = {**({"n_seeds": n_seeds} if n_seeds > 1 else {}), **({"compare": list(variants)} if compare else {})}
    run = open_run(out, config={**config_dict(cfg), **extra},
                   seeds={"seed": seed, **({"seeds": [c.seed for c in configs]} if n_seeds > 1 else {})})
    runs: dict[str, list[Any]] = {}  # label -> (folder, checkpoints, records, result) per seed
    for label, vcfg in variants.items():
        base = run.path / label if label else run.path
        for c in (seed_configs(vcfg, n_seeds) if not checkpoints else [vcfg]):
            folder = seed_dir(base, c.seed) if n_seeds > 1 else base
            which = "".join(f" ({x})" for x in (label, f"seed {c.seed}" if n_seeds > 1 else "") if x)
            if not checkpoints:
                with progress_bar("training" + which, c.steps) as cb:
                    ckdir, cks = experiment_checkpoints(c, folder, progress=cb)
            with progress_bar("phase analysis (checkpoints)" + which, len(cks)) as cb:
                records = analyze_checkpoints(c, cks, folder, progress=cb, class_alignment=c.data is not None,
                                              sweep=sweep)
            runs.setdefault(label, []).append((folder, cks, records, summarize_run(c, records, ckdir, cks)))
    folder, cks, records, result = next(iter(runs.values()))[0]
    run.save_result(result, "results")
    run.save_json(records, "checkpoints_analysis")
    paths = {name: run.save_figure(fig, name) for name, fig in experiment_figures(result, folder).items()}
    seed_sections = []
    if compare:
        firsts = {label: rs[0][3] for label, rs in runs.items()}
        cmp_paths = {name: run.save_figure(fig, name) for name, fig in
                     comparison_figures(firsts, {label: rs[0][0] for label, rs in runs.items()}).items()}
        seed_sections.append(comparison_section(firsts, cmp_paths))
    if n_seeds > 1:
        for label, rs in runs.items():
            summary = summarize_seeds([r[3] for r in rs], [c.seed for c in configs])
            run.save_result(summary, f"seeds_{label}" if label else "seeds")
            seed_paths = {name: run.save_figure(fig, f"{name}_{label}" if label else name)
                          for name, fig in seed_figures(summary).items()}
            sec = seed_section(summary, seed_paths)
            seed_sections.append(dataclasses.replace(sec, title=f"{sec.title} — {label}") if label else sec)
    last_ok = max(k for k, p in enumerate(result.phases) if p != "invalid")
    mc_sections = [_mc_section(run, result, reference_graph(cfg, cks[last_ok][1]).model, last_ok, mc_sweeps, seed)
                   ] if mc_check else []
    if census:
        mc_sections.append(_census_section(run, result, reference_graph(cfg, cks[last_ok][1]).model, last_ok, seed))
    elapsed = time.perf_counter() - t0
    sections = seed_sections + experiment_sections(result, records, paths, elapsed) + mc_sections
    if seed_sections:  # the detailed sections are those of the first variant's first seed
        which = ", ".join(x for x in (next(iter(runs)), f"seed {configs[0].seed}" if n_seeds > 1 else "") if x)
        k = len(seed_sections)
        sections[k:] = [dataclasses.replace(sec, title=f"{sec.title} ({which})") for sec in sections[k:]]
    title = (title_prefix + "Phases over training" + (f" ({cfg.arch})" if cfg.arch != "mlp" else "")
             + (f" (preset {cfg.preset})" if cfg.preset else "")
             + (" (binarized)" if binarized else "") + (" (lazy control)" if lazy else "")
             + (": ReLU, binarized, lazy control" if compare else ""))
    report = write_report(run.path, title, sections, run.manifest)
    console.print(f"{init_text(result)}; final: {result.phases[last_ok]}, T_c = {result.t_c[last_ok]:.4g} (step "
                  f"{result.steps[last_ok]})", highlight=False)
    if result.fit is not None:
        console.print(f"T_c ∝ t^γ: {fit_text(result.fit)}")
    for note in result.notes:
        console.print(f"[dim]note: {note}[/dim]", highlight=False)
    console.print(f"[bold]report:[/bold] {report}  ({elapsed:.0f} s)")
    if result.invalid:
        for bad in result.invalid:
            console.print(f"[bold red]error:[/bold red] step {bad['step']} ({bad['file']}) was not analysed: "
                          f"{bad['error']}", highlight=False)
        raise typer.Exit(1)
    return result


_MC_MAX_SPINS = 600


def _census_section(run: Any, result: Any, model: Any, ck: int, seed: int) -> Any:
    """TAP census of checkpoint ``ck`` at 0.5, 0.7 and 0.9 T_c and the melting temperature of its ordered minimum."""
    import numpy as np

    from spinlens.meanfield.census import melting_temperature, tap_census
    from spinlens.report import Section

    t_c = float(result.t_c[ck]) if np.isfinite(result.t_c[ck]) else float(result.t_star[ck])
    temps = [f * t_c for f in (0.5, 0.7, 0.9)]
    with progress_bar("TAP census", len(temps)) as cb:
        cen = tap_census(model, temps, n_random=64, n_annealed=8, rng=seed + 11, progress=cb)
    melt = melting_temperature(model, 0.5 * t_c, t_max=2.0 * t_c, rng=seed + 12)
    run.save_result(cen, "tap_census")
    rows = [{"T / T_c": round(T / t_c, 3), "T": float(T), "census": lev.phase, "ordered minima": lev.n_minima,
             "saddles": lev.n_saddles, "overlap spread": float(lev.overlap_spread),
             "lowest F": float(lev.free_energy.min()) if lev.free_energy.size else "—",
             "failed starts": lev.n_failed} for T, lev in zip(temps, cen.levels, strict=True)]
    melt_text = (f"the ordered TAP minimum found at 0.5 T_c melts ({melt.reason}) at T = {melt.t_melt:.4g} "
                 f"(bracket {melt.t_low_bracket:.4g}–{melt.t_high_bracket:.4g}), {melt.t_melt / t_c:.3f} × the "
                 "stability-curve T_c" if np.isfinite(melt.t_melt) and melt.reason != "not melted" else
                 f"the ordered minimum did not melt below 2 T_c ({melt.reason})")
    return Section("TAP census", text=[
        f"TAP solutions of the checkpoint of step {int(result.steps[ck])} from 64 random and 8 annealed starts "
        "(continuation in T from the paramagnet), deduplicated up to the global flip, each classified as a "
        "minimum or a saddle by the TAP Hessian. Hidden order = exactly one ± pair of ordered minima; glass = "
        "several minima with spread overlaps; undetermined = neither (for a glass the census often reaches only "
        f"m = 0 from these starts). Melting: {melt_text}."],
        tables=[("census per temperature", rows)])


def _mc_section(run: Any, result: Any, model: Any, ck: int, n_sweeps: int, seed: int) -> Any:
    """Parallel tempering on checkpoint ``ck`` (its spin ``model``) over T / T_c in [0.6, 1.7]: Binder parameter,
    chi_SG, P(q)."""
    import numpy as np

    from spinlens.networks.phases import mc_crosscheck
    from spinlens.report import Section, new_figure

    n = model.n_spins
    if n > _MC_MAX_SPINS:
        raise UserError(f"--mc-check is for small networks (at most {_MC_MAX_SPINS} spins); this one has {n}.")
    t_c = float(result.t_c[ck])
    if not np.isfinite(t_c):
        t_c = float(result.t_star[ck])
    ratios = np.geomspace(0.6, 1.7, 12)
    with progress_bar("Monte Carlo cross-check", n_sweeps) as cb:
        mc = mc_crosscheck(model, ratios * t_c, n_sweeps=n_sweeps, rng=seed + 7, progress=cb)
    run.save_arrays("mc_crosscheck", temperatures=mc.temperatures, binder=mc.binder, chi_sg=mc.chi_sg,
                    q_edges=mc.q_edges, p_q=mc.p_q)
    fig, axes = new_figure(1, 2, size=(9.6, 3.6))
    x = mc.temperatures / t_c
    axes[0].plot(x, mc.binder, "o-", ms=3, label="overlap Binder g")
    axes[0].axvline(1.0, color="k", ls="--", lw=0.8, label="T_c (TAP stability)")
    axes[0].set(xscale="log", xlabel="T / T_c", ylabel="g", title=f"parallel tempering, step {int(result.steps[ck])}")
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
        f"Parallel tempering ({n_sweeps} sweeps, 4 replicas per temperature) on the checkpoint of step "
        f"{int(result.steps[ck])} ({n} spins), "
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
    binarized: bool = typer.Option(False, "--binarized", help="Train with binarized (sign, straight-through) "
                                   "activations."),
    lazy: bool = typer.Option(False, "--lazy", help="Lazy-training control: output scale alpha, lr / alpha^2."),
    lazy_scale: float | None = typer.Option(None, "--lazy-scale", help="alpha for --lazy (default 100)."),
    checkpoints: Path | None = typer.Option(None, "--checkpoints", help="Analyse your own checkpoints (a folder, "
                                            "or one file) instead of training; nothing is trained."),
    model: str | None = typer.Option(None, "--model", help="module:builder or file.py:builder returning the "
                                     "nn.Module of --checkpoints (needed unless the state dicts are one "
                                     "nn.Sequential's: 0.weight, 2.weight, ...)."),
    steps_from: Path | None = typer.Option(None, "--steps-from", help="CSV (file,step per line) or JSON "
                                           "{file: step}: the training step of each file of --checkpoints."),
    widths: str | None = typer.Option(None, "--widths", help="MLP layer widths, input first (default "
                                      "784,256,256,10); with --checkpoints only checked against the neuron layers."),
    arch: str | None = typer.Option(None, "--arch", help="What to train: mlp (default), cnn (LeNet-style: conv5, "
                                    "avgpool, conv3, avgpool, dense) or resnet (conv stem, residual blocks with "
                                    "BatchNorm, avgpool, dense)."),
    channels: str | None = typer.Option(None, "--channels", help="--arch cnn: c1,c2 (default 16,32); --arch "
                                        "resnet: the width (default 8)."),
    blocks: int | None = typer.Option(None, "--blocks", help="--arch resnet: residual blocks (default 2)."),
    preset: str | None = typer.Option(None, "--preset", help="A named set-up whose values the other options "
                                      "override: barney2024 (784-512-512-512-10, no biases, N(0, 1/fan_in), SGD lr "
                                      "0.01 momentum 0.9 batch 64, 20% held out, dense early checkpoints)."),
    test_fraction: float | None = typer.Option(None, "--test-fraction", help="Share of the dataset held out of "
                                               "training and evaluated at every checkpoint (default 0.2; 0: none)."),
    input_shape: str | None = typer.Option(None, "--input-shape", help="Per-sample input of the --model module, "
                                           "e.g. 1,28,28 (default: the dataset's samples flat, else the in_features "
                                           "of its first Linear layer)."),
    dataset: str | None = typer.Option(None, "--dataset", help="digits, mnist5000 (default for training) or an "
                                       ".npz file; with --checkpoints: accuracy (needs --model) and class alignment."),
    n_samples: int | None = typer.Option(None, "--n-samples", help="Use only the first N samples of the dataset."),
    steps: int | None = typer.Option(None, "--steps", help="Training steps (default 2000)."),
    n_checkpoints: int | None = typer.Option(None, "--n-checkpoints", help="Log-spaced checkpoints incl. step 0 "
                                             "(default 20)."),
    lr: float | None = typer.Option(None, "--lr", help="Learning rate (default 0.05)."),
    optimizer: str | None = typer.Option(None, "--optimizer", help="sgd (momentum 0.9; default) or adam."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Training batch size (default 128)."),
    n_starts: int = typer.Option(8, "--n-starts", help="Random TAP starts per probed checkpoint."),
    tap_checkpoints: int = typer.Option(5, "--tap-checkpoints", help="Checkpoints that get TAP evidence."),
    null_models: bool = typer.Option(True, "--null-models/--no-null-models", help="T_c of the couplings shuffled "
                                     "within each block and the variance prediction, at every checkpoint (doubles "
                                     "the stability cost)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the run (the first of --seeds)."),
    census: bool = typer.Option(False, "--census", help="TAP census of the last checkpoint (64 random + 8 annealed "
                                "starts at 0.5, 0.7, 0.9 T_c; minima vs saddles) and the melting temperature of its "
                                "ordered minimum."),
    compare: bool = typer.Option(False, "--compare", help="Train the ReLU, binarized and lazy-control variants "
                                 "of the set-up (folders relu/, binarized/, lazy/) and report them side by side."),
    n_seeds: int = typer.Option(1, "--seeds", help="Train and analyse this many seeds (--seed, --seed + 1, ...): "
                                "bands over seeds on T_c(t), accuracy and the exponent."),
    mc_check: bool = typer.Option(False, "--mc-check", help=f"Parallel-tempering cross-check of the last "
                                  f"checkpoint's transition (networks of at most {_MC_MAX_SPINS} spins)."),
    mc_sweeps: int = typer.Option(3000, "--mc-sweeps", help="Sweeps for --mc-check."),
    workers: int = WORKERS,
    scheduler: str | None = SCHEDULER,
) -> None:
    """Train a network (default: a 784-256-256-10 ReLU MLP on MNIST-5000; --arch cnn or resnet), or read your
    checkpoints (any supported nn.Module: --model), and follow its spin-model phase over training."""
    options = {k: v for k, v in locals().items() if k != "out"}  # exactly the parameters above
    _run_phases(out, "", **options)


def register(app: typer.Typer) -> None:
    """Add ``phases`` to the ``spinlens`` app."""
    app.command("phases")(phases)
