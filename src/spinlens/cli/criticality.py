"""``spinlens criticality``: phase diagram, depth scales, theory vs simulation, RG flow; ``init`` subcommand.

Design: a sub-Typer whose callback (``invoke_without_command=True``) runs the default analysis when no
subcommand is given, plus an ``init`` subcommand that prints the critical initialisation.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from spinlens.cli._common import UserError, console, open_run, progress_bar

__all__ = ["register"]


def _analysis(activation: str, out: Path, grid: int, sigma_b2: float, width: int, depth: int,
              n_networks: int, seed: int, simulate: bool) -> Path:
    from spinlens import criticality as cr
    from spinlens.report import Section, new_figure, write_report

    try:
        act = cr.get_activation(activation)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    config = dict(activation=act.name, grid=grid, sigma_b2=sigma_b2, width=width, depth=depth,
                  n_networks=n_networks, simulate=simulate)
    run = open_run(out, config=config, seeds={"seed": seed})
    sws = np.linspace(0.05, 4.0, grid)
    sbs = np.linspace(0.0, 0.5, grid)
    pd = cr.phase_diagram(act, sws, sbs)
    run.save_result(pd, "phase_diagram")
    sections = []

    fig, ax = new_figure(size=(5.6, 4.2))
    xi = np.where(np.isfinite(pd.xi_c), pd.xi_c, np.nan)
    im = ax.pcolormesh(sws, sbs, np.log10(np.clip(xi, 1e-2, 1e4)), shading="auto", cmap="magma")
    fig.colorbar(im, ax=ax, label=r"$\log_{10}\xi_c$")
    ax.plot(pd.critical, sbs, "c-", lw=2, label=r"critical line $\chi_1=1$")
    ax.set(xlabel=r"$\sigma_w^2$", ylabel=r"$\sigma_b^2$", title=f"{act.name}: depth scale $\\xi_c$")
    ax.legend(loc="upper left", frameon=False, labelcolor="w")
    run.save_figure(fig, "phase_diagram")

    row = int(np.argmin(np.abs(sbs - sigma_b2)))
    fig, ax = new_figure()
    ax.semilogy(sws, pd.xi_c[row], label=r"$\xi_c$")
    ax.semilogy(sws, pd.xi_q[row], label=r"$\xi_q$")
    if np.isfinite(pd.critical[row]):
        ax.axvline(pd.critical[row], color="k", ls="--", lw=1, label="critical")
    ax.set(xlabel=r"$\sigma_w^2$", ylabel="depth scale", title=rf"{act.name}, $\sigma_b^2$ = {sbs[row]:.3g}")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    run.save_figure(fig, "depth_scales")
    crit = pd.critical[row]
    sections.append(Section(
        "Phase diagram",
        [f"Order (chi_1 < 1) / chaos (chi_1 > 1) for {act.name}; xi_c diverges on the critical line. "
         f"Critical sigma_w^2 at sigma_b^2 = {sbs[row]:.3g}: {crit:.6g}."],
        figures=[(run / "phase_diagram.png", "log10 xi_c over (sigma_w^2, sigma_b^2) with the critical line"),
                 (run / "depth_scales.png", "depth scales across the transition")],
    ))

    rows = []
    try:
        init = cr.critical_init(act)
        rows.append({k: v for k, v in init.to_dict().items()})
    except ValueError as exc:
        rows.append({"activation": act.name, "critical initialisation": str(exc)})
    sections.append(Section("Critical initialisation (Roberts-Yaida-Hanin)", tables=[("", rows)]))

    if simulate and np.isfinite(crit):
        figs = []
        for label, sw in (("ordered", 0.7 * crit), ("critical", crit), ("chaotic", 1.5 * crit)):
            fp = cr.fixed_point(act, sw, sbs[row])
            if not np.isfinite(fp.q_star):
                continue
            with progress_bar(f"simulating {label}", depth) as cb:
                sim = cr.simulate_signal(act, sw, sbs[row], width=width, depth=depth, n_networks=n_networks,
                                         rng=seed, progress=cb)
            run.save_result(sim, f"simulation_{label}")
            fig, axes = new_figure(1, 2, size=(9.0, 3.4))
            axes[0].errorbar(sim.layers, sim.q_mean, sim.q_err, fmt="o", ms=3, label="simulation")
            axes[0].plot(sim.layers, sim.q_theory, "k-", label="length map")
            axes[0].set(xlabel="layer l", ylabel=r"$q^l$")
            axes[1].errorbar(sim.layers, sim.c_mean, sim.c_err, fmt="o", ms=3, label="simulation")
            axes[1].plot(sim.layers, sim.c_theory, "k-", label="correlation map")
            axes[1].set(xlabel="layer l", ylabel=r"$c^l$")
            for a in axes:
                a.legend(frameon=False)
                a.grid(alpha=0.3)
            fig.suptitle(f"{label}: $\\sigma_w^2$ = {sw:.3g}, width {width}, {n_networks} networks")
            run.save_figure(fig, f"simulation_{label}")
            figs.append((run / f"simulation_{label}.png", f"{label} phase: simulation vs mean-field maps"))
        sections.append(Section("Theory vs simulation", figures=figs))

    if sbs[row] > 0 and np.isfinite(crit):
        fig, ax = new_figure(1, 2, size=(9.6, 3.8))
        ax[0].plot(pd.critical, sbs, "k-", lw=1.5, label="critical line (RG fixed points)")
        for f in (0.8, 0.9, 0.95, 1.05, 1.1, 1.2):
            for sb0 in (0.05, 0.15, 0.3):
                c0 = cr.critical_sigma_w2(act, sb0)
                fl = cr.rg_flow(act, f * c0, sb0, n_steps=4)
                ax[0].plot(fl.sigma_w2, fl.sigma_b2, "-", color="tab:blue" if f < 1 else "tab:red", lw=1)
                ax[0].plot(fl.sigma_w2[0], fl.sigma_b2[0], "o", ms=3, color="k")
                if len(fl.sigma_w2) > 1:
                    ax[0].annotate("", xy=(fl.sigma_w2[1], fl.sigma_b2[1]), xytext=(fl.sigma_w2[0], fl.sigma_b2[0]),
                                   arrowprops=dict(arrowstyle="->", lw=0.8))
        ax[0].set(xlabel=r"$\sigma_w^2$", ylabel=r"$\sigma_b^2$", title="RG flow (decimate every other layer)",
                  xlim=(0, sws[-1]), ylim=(0, sbs[-1]))
        ax[0].legend(frameon=False, fontsize=8)
        fit = cr.correlation_length_exponent(act)
        run.save_result(fit, "exponent")
        for sb0 in fit.sigma_b2:
            m = fit.series == sb0
            ax[1].semilogx(np.abs(fit.x[m]), fit.y[m], "o", ms=3, label=rf"$\sigma_b^2$={sb0:g}")
        ax[1].axhline(1.0, color="k", lw=1)
        ax[1].set(xlabel=r"$|\chi_1-1|$", ylabel=r"$\xi_c|\chi_1-1|^{\nu_{RG}}$",
                  title=f"data collapse (nu_RG = {fit.nu_rg:.4f}, fit {fit.nu:.4f})")
        ax[1].legend(frameon=False, fontsize=8)
        run.save_figure(fig, "rg_flow")
        ev, lam, nu_rg = cr.rg_eigenvalues(act, float(sbs[row]))
        sections.append(Section(
            "Renormalization group along depth",
            [f"Every point of the critical line is a fixed point of the decimation; linearised eigenvalues "
             f"{np.round(ev, 6).tolist()} (marginal along the line, relevant across it), nu_RG = ln 2 / ln "
             f"{lam:.6f} = {nu_rg:.6f}; fitted nu from xi_c ~ |chi_1 - 1|^-nu: {fit.nu:.4f} +- {fit.nu_error:.1g}."],
            figures=[(run / "rg_flow.png", "RG flow of the couplings and the data collapse of xi_c")],
        ))
    write_report(run.path, f"spinlens criticality: {act.name}", sections, run.manifest)
    console.print(f"[green]report:[/green] {run.path / 'report.html'}")
    return run.path


def register(app: typer.Typer) -> None:
    """Add the ``criticality`` command group (default analysis + ``init``) to ``app``."""
    sub = typer.Typer(help="Signal-propagation criticality: phase diagrams, depth scales, RG along depth.",
                      invoke_without_command=True, no_args_is_help=False)

    @sub.callback(invoke_without_command=True)
    def criticality(
        ctx: typer.Context,
        activation: str = typer.Option("tanh", "--activation", "-a", help="tanh, erf, relu, gelu, swish, ..."),
        out: Path = typer.Option(Path("runs/criticality"), "--out", help="run directory"),
        grid: int = typer.Option(200, help="phase-diagram grid points per axis"),
        sigma_b2: float = typer.Option(0.05, "--sigma-b2", help="bias variance for the 1-D cuts and simulations"),
        width: int = typer.Option(500, help="simulated network width"),
        depth: int = typer.Option(20, help="simulated network depth"),
        n_networks: int = typer.Option(8, help="simulated networks per point"),
        seed: int = typer.Option(0, help="random seed"),
        simulate: bool = typer.Option(True, "--simulate/--no-simulate", help="run the random-network simulations"),
    ) -> None:
        """Phase diagram (xi_c heat map + critical line), depth scales, theory vs simulation, RG flow."""
        if ctx.invoked_subcommand is not None:
            return
        if grid < 2:
            raise UserError("--grid must be at least 2.")
        _analysis(activation, out, grid, sigma_b2, width, depth, n_networks, seed, simulate)

    @sub.command("init")
    def init(activation: str = typer.Option("gelu", "--activation", "-a", help="activation name")) -> None:
        """Print the critical initialisation (C_b, C_W) and universality class."""
        from spinlens import criticality as cr

        try:
            ci = cr.critical_init(activation)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        typer.echo(f"activation: {ci.activation}")
        typer.echo(f"class:      {ci.universality_class}")
        typer.echo(f"C_b:        {ci.C_b:.8f}")
        typer.echo(f"C_W:        {ci.C_W:.8f}")
        if np.isfinite(ci.K_star):
            typer.echo(f"K*:         {ci.K_star:.8g}")

    app.add_typer(sub, name="criticality")
