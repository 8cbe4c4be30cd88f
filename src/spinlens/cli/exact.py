"""``spinlens exact``: exact thermodynamics of a small model by enumeration, beside closed forms.

Builds a model (square lattice, chain, Curie–Weiss, SK, layered SK, or J and h from an ``.npz``),
enumerates all 2^n states once for a grid of temperatures, and writes the results, the arrays, a
figure (energy, heat capacity, entropy and magnetisation vs T, with Onsager / transfer-matrix /
Curie–Weiss / SK-paramagnet reference curves where one applies) and ``report.html``.
"""
from __future__ import annotations

import time
import warnings
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import typer

from spinlens.cli._common import UserError, console, open_run, progress_bar


class ModelName(str, Enum):
    square = "square"
    chain = "chain"
    curie_weiss = "curie-weiss"
    sk = "sk"
    layered_sk = "layered-sk"


def parse_betas(spec: str) -> np.ndarray:
    """``"start:stop:count"`` → ``linspace(start, stop, count)``; ``"a,b,c"`` → that list; ``"b"`` → one value."""
    try:
        if ":" in spec:
            parts = spec.split(":")
            if len(parts) != 3:
                raise ValueError
            a, b, k = float(parts[0]), float(parts[1]), int(parts[2])
            if k < 1:
                raise ValueError
            return np.linspace(a, b, k)
        return np.array([float(x) for x in spec.split(",") if x.strip()])
    except ValueError:
        raise UserError(
            f"cannot read --betas {spec!r}; use start:stop:count (e.g. 0.1:1.0:20) or a comma list (0.2,0.5)."
        ) from None


def build_model(
    model: ModelName, size: int, coupling: float, field: float, layers: int, widths: str | None, seed: int,
    npz: Path | None,
) -> tuple[Any, dict[str, Any]]:
    """The IsingModel the options describe, and a description of it for the manifest."""
    from spinlens import spins

    if npz is not None:
        from spinlens.cli.tap import load_model_npz

        return load_model_npz(npz), {"model": "npz", "file": str(npz)}
    if size < 1:
        raise UserError(f"--size must be positive, got {size}.")
    if model is ModelName.square:
        return spins.square_lattice(size, J=coupling, h=field), {"model": "square", "L": size}
    if model is ModelName.chain:
        return spins.chain(size, J=coupling, h=field), {"model": "chain", "n": size}
    if model is ModelName.curie_weiss:
        return spins.curie_weiss(size, J=coupling, h=field), {"model": "curie-weiss", "n": size}
    if model is ModelName.sk:
        return spins.sk(size, J=coupling, h=field, rng=seed), {"model": "sk", "n": size}
    w = [int(x) for x in widths.split(",")] if widths else [size] * layers
    m = spins.layered_sk(w, C=coupling, rng=seed)
    if field:
        m = m.with_field(np.full(m.n_spins, field))
    return m, {"model": "layered-sk", "widths": w}


def _references(
    kind: str, desc: dict[str, Any], model: Any, betas: np.ndarray, coupling: float, field: float
) -> tuple[dict[str, np.ndarray], str, list[dict[str, Any]], np.ndarray | None, list[str]]:
    """Reference values per spin at ``betas`` (keys 'energy', 'heat_capacity', 'magnetization', 'entropy',
    'log_z' where a closed form applies), their label, extra summary rows, marker temperatures and notes."""
    from spinlens import exact

    n = model.n_spins
    refs: dict[str, np.ndarray] = {}
    notes: list[str] = []
    vline = None
    rows: list[dict[str, Any]] = []
    label = "closed form"
    if kind == "square" and coupling > 0:
        L = desc["L"]
        b = betas * coupling
        o = exact.onsager(b)
        refs["energy"] = np.atleast_1d(o.energy) * coupling
        refs["heat_capacity"] = np.atleast_1d(o.heat_capacity)
        refs["entropy"] = np.atleast_1d(o.entropy)
        refs["magnetization"] = np.atleast_1d(o.magnetization)
        vline = np.array([exact.ONSAGER_TC * coupling])
        label = "Onsager (L = inf)"
        notes.append("Reference: Onsager's infinite-lattice solution (Yang's spontaneous magnetisation).")
        if field == 0.0 and L >= 2:
            refs["log_z"] = np.atleast_1d(exact.kaufman(L, betas, J=coupling))
            notes.append("ln Z is checked against Kaufman's exact finite-torus partition function.")
    elif kind == "chain":
        lz = lambda bb: np.atleast_1d(exact.chain_transfer_matrix(n, bb, J=coupling, h=field))  # noqa: E731
        refs["log_z"] = lz(betas)
        d = 1e-5 * betas
        refs["energy"] = -(lz(betas + d) - lz(betas - d)) / (2 * d) / n
        label = "transfer matrix"
        notes.append("Reference: 1D transfer matrix (ln Z exact; energy by its derivative).")
    elif kind == "curie-weiss":
        cw = exact.curie_weiss(n, betas, J=coupling, h=field)
        refs["log_z"] = np.atleast_1d(cw.log_z)
        mf = exact.curie_weiss(None, betas, J=coupling, h=field)
        refs["energy"] = np.atleast_1d(mf.energy)
        refs["heat_capacity"] = np.atleast_1d(mf.heat_capacity)
        refs["entropy"] = np.atleast_1d(mf.entropy)
        refs["magnetization"] = np.atleast_1d(mf.m_abs)
        if coupling > 0:
            vline = np.array([coupling])
        label = "mean field (n = inf)"
        notes.append("ln Z is checked against the exact Curie-Weiss sum over magnetisation sectors; "
                     "curves: the n -> infinity mean-field solution.")
    elif kind == "sk":
        hot = betas < 1.0 / coupling
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = exact.sk_paramagnet(betas, J=coupling)
        for key in ("energy", "heat_capacity", "entropy"):
            refs[key] = np.where(hot, np.atleast_1d(getattr(p, key)), np.nan)
        vline = np.array([coupling])
        label = "SK paramagnet (n = inf)"
        notes.append("Reference: SK paramagnet (n -> infinity), drawn for T > T_c = J only.")
    elif kind == "layered-sk":
        tc = exact.layered_sk_tc(desc["widths"], C=coupling)
        vline = np.array([tc])
        rows.append({"quantity": "layered-SK T_c (n -> infinity)", "value": tc})
        notes.append(f"Dashed line: the layered-SK spin-glass temperature T_c = {tc:.4g} (infinite widths).")
    return refs, label, rows, vline, notes


def _figure(
    T: np.ndarray,
    series: dict[str, np.ndarray],
    T_ref: np.ndarray,
    refs: dict[str, np.ndarray],
    ref_label: str,
    vline: np.ndarray | None,
) -> Any:
    from spinlens.report import new_figure

    fig, axes = new_figure(2, 2, size=(9.6, 7.0))
    panels = [
        ("energy", "energy per spin u"),
        ("heat_capacity", "heat capacity per spin c"),
        ("entropy", "entropy per spin s"),
        ("magnetization", "magnetisation |m| (rms)"),
    ]
    order = np.argsort(T)
    for ax, (key, label) in zip(axes.ravel(), panels, strict=True):
        ax.plot(T[order], series[key][order], "o-", ms=3, label="exact enumeration")
        if key in refs:
            r = refs[key]
            ax.plot(T_ref, np.where(np.isfinite(r), r, np.nan), "k--", lw=1, label=ref_label)
        if vline is not None:
            for v in vline:
                ax.axvline(v, color="grey", ls=":", lw=1)
        ax.set(xlabel="T", ylabel=label)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(frameon=False)
    return fig


def exact_command(
    model: ModelName = typer.Option(ModelName.square, "--model", help="Which model to build."),
    size: int = typer.Option(4, "--size", help="Square: side L (L*L spins); chain, curie-weiss, sk: spins; "
                             "layered-sk: width of each layer."),
    beta: float | None = typer.Option(None, "--beta", help="One inverse temperature (instead of --betas)."),
    betas: str = typer.Option("0.1:1.0:30", "--betas", help="Grid of inverse temperatures start:stop:count or a,b,c."),
    coupling: float = typer.Option(
        1.0, "--coupling", help="J (square, chain, curie-weiss), SK scale J, or layered-SK C."
    ),
    field: float = typer.Option(0.0, "--field", help="Uniform field h."),
    layers: int = typer.Option(3, "--layers", help="layered-sk: number of layers of --size spins."),
    widths: str | None = typer.Option(None, "--widths", help="layered-sk: comma list of widths (overrides)."),
    npz: Path | None = typer.Option(None, "--npz", help="Solve J (and h) from this .npz instead of a builder."),
    seed: int = typer.Option(0, "--seed", help="Seed of the disorder (sk, layered-sk)."),
    max_spins: int = typer.Option(26, "--max-spins", help="Refuse more spins than this (2^n states)."),
    out: Path = typer.Option(Path("runs/exact"), "--out", help="Run directory."),
) -> None:
    """Solve a small model exactly (all 2^n states) over a temperature grid; write results and report.html."""
    from spinlens import IsingModel, exact
    from spinlens.report import Section, write_report

    grid = np.array([beta]) if beta is not None else parse_betas(betas)
    m, desc = build_model(model, size, coupling, field, layers, widths, seed, npz)
    n = m.n_spins
    if n > max_spins:
        raise UserError(
            f"{n} spins is above --max-spins {max_spins} (2^{n} states): use a smaller --size, or an approximate "
            "solver (Monte Carlo: spinlens.sampling.sample; mean field / TAP: spinlens.meanfield.tap)."
        )
    config = {**desc, "n_spins": n, "betas": grid, "coupling": coupling, "field": field, "seed": seed}
    run = open_run(out, config=config, seeds={"disorder": seed})
    # load (or compile) the numba kernel on a 2-spin model first, so the time reported is enumeration only
    exact.enumerate(IsingModel(np.zeros((2, 2)), [0.1, 0.0]), grid[:1])
    t0 = time.perf_counter()
    with progress_bar(f"enumerating 2^{n} states", total=1) as bar:
        res = exact.enumerate(m, grid, max_spins=max_spins, progress=bar)
    elapsed = time.perf_counter() - t0
    n_temps = f"{grid.size} temperature{'s' if grid.size != 1 else ''}"
    T = 1.0 / grid
    series = {
        "energy": res.energy / n,
        "heat_capacity": res.heat_capacity / n,
        "entropy": res.entropy / n,
        "magnetization": np.asarray(res.magnetization_rms),
    }
    refs, ref_label, extra_rows, vline, notes = _references(desc["model"], desc, m, grid, coupling, field)
    T_fine = np.linspace(T.min(), T.max(), 200) if grid.size > 1 else T
    curves = _references(desc["model"], desc, m, 1.0 / T_fine, coupling, field)[0]
    curves.pop("log_z", None)
    run.save_result(res)
    run.save_arrays("model", J=m.dense_J(), h=np.asarray(m.h))
    run.save_arrays(
        "thermodynamics", T=T, beta=grid, log_z=res.log_z, free_energy_per_spin=res.free_energy / n,
        **series, **{f"reference_{k}": v for k, v in refs.items()},
    )
    run.save_arrays("reference_curves", T=T_fine, **curves)
    fig_path = run.save_figure(_figure(T, series, T_fine, curves, ref_label, vline), "thermodynamics")
    rows: list[dict[str, Any]] = [
        {"quantity": "spins", "value": n},
        {"quantity": "states enumerated", "value": 2**n},
        {"quantity": "temperatures", "value": int(grid.size)},
        {"quantity": "enumeration time (s)", "value": elapsed},
        {"quantity": "ground-state energy per spin", "value": res.ground_energy / n},
        {"quantity": "T of the heat-capacity peak", "value": float(T[int(np.argmax(series["heat_capacity"]))])},
    ]
    if "log_z" in refs:
        gap = float(np.max(np.abs(res.log_z - refs["log_z"])))
        rows.append({"quantity": "max |ln Z - ln Z(closed form)|", "value": gap})
    rows += extra_rows
    run.save_json({"summary": rows}, "summary")
    table = [
        {"T": float(t), "beta": float(b), "ln Z": float(lz), "u": float(u), "c": float(c), "s": float(s),
         "|m| rms": float(mm)}
        for t, b, lz, u, c, s, mm in zip(T, grid, res.log_z, series["energy"], series["heat_capacity"],
                                        series["entropy"], series["magnetization"], strict=True)
    ]
    write_report(
        run.path,
        f"spinlens exact: {desc['model']} model, {n} spins",
        [
            Section(
                "Exact enumeration",
                [f"All 2^{n} states enumerated in Gray-code order (float64, log-sum-exp) for {n_temps} "
                 f"in {elapsed:.3g} s.", *notes],
                [("summary", rows), ("thermodynamics per spin", table)],
                [(fig_path, "energy, heat capacity, entropy and rms magnetisation per spin vs temperature")],
            )
        ],
        run.manifest,
    )
    console.print(f"{n} spins, {n_temps} in {elapsed:.3g} s;  report: {run.path / 'report.html'}")


def register(app: typer.Typer) -> None:
    app.command("exact")(exact_command)
