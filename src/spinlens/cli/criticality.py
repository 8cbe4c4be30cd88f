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
    sbs = np.linspace(0.0, max(0.5, 1.25 * sigma_b2), grid)  # the map; the cut below is at sigma_b2 itself
    pd = cr.phase_diagram(act, sws, sbs)
    run.save_result(pd, "phase_diagram")
    sections = []

    fig, ax = new_figure(size=(5.8, 4.3))
    xi = np.where(np.isfinite(pd.xi_c), pd.xi_c, np.nan)
    logxi = np.log10(np.clip(xi, 1e-2, 1e4))
    vmax = float(np.nanpercentile(logxi, 99.5)) if np.any(np.isfinite(logxi)) else 1.0
    ax.set_facecolor("0.82")  # NaN cells: the length map diverges (q* = inf)
    im = ax.pcolormesh(sws, sbs, logxi, shading="auto", cmap="magma", vmax=vmax)
    fig.colorbar(im, ax=ax, label=r"$\log_{10}\xi_c$ (depth scale of correlations)")
    ax.plot(pd.critical, sbs, "c-", lw=1.6, label=r"critical line $\chi_1=1$")
    ax.axhline(sigma_b2, color="w", ls="--", lw=1, label=rf"cut and simulations: $\sigma_b^2$ = {sigma_b2:g}")
    if np.any(~np.isfinite(pd.q_star)):
        from matplotlib.patches import Patch

        ax.legend(handles=[*ax.get_legend_handles_labels()[0], Patch(color="0.82", label=r"$q^*=\infty$")],
                  loc="upper left", frameon=False, labelcolor="w", fontsize=8)
    else:
        ax.legend(loc="upper left", frameon=False, labelcolor="w", fontsize=8)
    fin = np.isfinite(pd.critical)
    if np.any(fin):  # name the phases on either side of the line, at mid height
        k = int(np.flatnonzero(fin)[len(np.flatnonzero(fin)) // 2])
        left, right = 0.5 * (sws[0] + pd.critical[k]), 0.5 * (pd.critical[k] + sws[-1])
        ax.text(left, sbs[k], "ordered\n" + r"$\chi_1<1$", color="w", ha="center", va="center", fontsize=9)
        if np.isfinite(pd.q_star[k, -1]):
            ax.text(right, sbs[k], "chaotic\n" + r"$\chi_1>1$", color="w", ha="center", va="center", fontsize=9)
    ax.set(xlabel=r"$\sigma_w^2$", ylabel=r"$\sigma_b^2$",
           title=f"{act.name}: order-to-chaos phase diagram", xlim=(sws[0], sws[-1]), ylim=(sbs[0], sbs[-1]))
    run.save_figure(fig, "phase_diagram")

    # the 1-D cut is evaluated at the requested sigma_b2, not read off the nearest row of the map's grid
    cut = cr.depth_scale_cut(act, sws, sigma_b2)
    run.save_result(cut, "depth_scales")
    crit = cut.critical
    fig, ax = new_figure()
    ax.semilogy(sws, cut.xi_c, label=r"$\xi_c$")
    ax.semilogy(sws, cut.xi_q, label=r"$\xi_q$")
    if np.isfinite(crit):
        ax.axvline(crit, color="k", ls="--", lw=1, label=rf"critical $\sigma_w^2$ = {crit:.6g}")
    ax.set(xlabel=r"$\sigma_w^2$", ylabel="depth scale", title=rf"{act.name}, $\sigma_b^2$ = {sigma_b2:g}")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    run.save_figure(fig, "depth_scales")
    if np.isfinite(crit):
        crit_text = f"{crit:.6g}"
    else:
        why = "chi_1 = inf, chaotic everywhere" if act.chi1_infinite else "no transition for sigma_w^2 <= 1e3"
        crit_text = f"none ({why}{'; no simulations' if simulate else ''})"
    sections.append(Section(
        "Phase diagram",
        [f"Order (chi_1 < 1) / chaos (chi_1 > 1) for {act.name}; xi_c diverges on the critical line. "
         f"Depth scales and simulations at sigma_b^2 = {sigma_b2:g} (the map's grid has {grid} rows in "
         f"[0, {sbs[-1]:g}]); the critical sigma_w^2 there: {crit_text}."],
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
            fp = cr.fixed_point(act, sw, sigma_b2)
            if not np.isfinite(fp.q_star):
                continue
            with progress_bar(f"simulating {label}", depth) as cb:
                sim = cr.simulate_signal(act, sw, sigma_b2, width=width, depth=depth, n_networks=n_networks,
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
            fig.suptitle(f"{label}: $\\sigma_w^2$ = {sw:.3g}, $\\sigma_b^2$ = {sigma_b2:g}; width {width}, "
                         f"{n_networks} networks (error bars: standard errors)")
            run.save_figure(fig, f"simulation_{label}")
            figs.append((run / f"simulation_{label}.png", f"{label} phase: simulation vs mean-field maps"))
        sections.append(Section("Theory vs simulation", figures=figs))

    if sigma_b2 > 0 and np.isfinite(crit):
        fig, ax = new_figure(1, 2, size=(10.0, 4.0))
        ax[0].plot(pd.critical, sbs, "k-", lw=2.2, label="critical line = line of RG fixed points", zorder=4)
        for f in (0.9, 0.98, 1.02, 1.1):
            for sb0 in (0.05, 0.2, 0.35):
                c0 = cr.critical_sigma_w2(act, sb0)
                fl = cr.rg_flow(act, f * c0, sb0, n_steps=6)
                color = "tab:blue" if f < 1 else "tab:red"
                ax[0].plot(fl.sigma_w2, fl.sigma_b2, "-", color=color, lw=1, alpha=0.8)
                ax[0].plot(fl.sigma_w2, fl.sigma_b2, ".", color=color, ms=4)
                ax[0].plot(fl.sigma_w2[0], fl.sigma_b2[0], "o", ms=4, color="k", zorder=3)
                for k in range(len(fl.sigma_w2) - 1):
                    ax[0].annotate("", xy=(fl.sigma_w2[k + 1], fl.sigma_b2[k + 1]),
                                   xytext=(fl.sigma_w2[k], fl.sigma_b2[k]),
                                   arrowprops=dict(arrowstyle="->", lw=0.8, color=color))
        ax[0].plot([], [], "-", color="tab:blue", label=r"start on the ordered side ($\chi_1<1$)")
        ax[0].plot([], [], "-", color="tab:red",
                   label=r"start on the chaotic side (stops at $\sigma_b^2<0$ or $q^*=\infty$)")
        ax[0].set(xlabel=r"$\sigma_w^2$", ylabel=r"$\sigma_b^2$",
                  title=r"RG flow: decimate every other layer, $\chi_1\to\chi_1^2$",
                  xlim=(0, sws[-1]), ylim=(0, sbs[-1]))
        ax[0].legend(frameon=True, framealpha=0.9, fontsize=7, loc="upper left")
        fit = cr.correlation_length_exponent(act)
        run.save_result(fit, "exponent")
        for i, sb0 in enumerate(fit.sigma_b2):
            m = fit.series == sb0
            c = f"C{i}"
            below, above = m & (fit.x < 0), m & (fit.x > 0)
            fb, fa = below & np.isfinite(fit.y), above & np.isfinite(fit.y)
            if np.any(fb):
                ax[1].semilogx(np.abs(fit.x[fb]), fit.y[fb], "o", ms=4, mfc="none", color=c,
                               label=rf"$\sigma_b^2$={sb0:g}, ordered")
            if np.any(fa):
                ax[1].semilogx(np.abs(fit.x[fa]), fit.y[fa], "o", ms=3, color=c,
                               label=rf"$\sigma_b^2$={sb0:g}, chaotic")
        ax[1].axhline(1.0, color="k", lw=1)
        if np.isfinite(fit.nu_rg):
            ylab, title = r"$\xi_c\,|\chi_1-1|^{\nu_{RG}}$", rf"data collapse: $\nu_{{RG}}$ = {fit.nu_rg:.4f}"
        else:
            ylab, title = r"$\xi_c\,|\chi_1-1|$", r"data collapse with $\nu=1$ (no finite RG fixed point)"
        ax[1].set(xlabel=r"$|\chi_1-1|$", ylabel=ylab, title=f"{title}\nfitted $\\nu$ = {fit.nu:.4f}")
        ax[1].legend(frameon=False, fontsize=7, ncol=2)
        ax[1].grid(alpha=0.3)
        run.save_figure(fig, "rg_flow")
        try:
            ev, lam, nu_rg = cr.rg_eigenvalues(act, sigma_b2)
            text = (f"Every point of the critical line is a fixed point of the decimation; linearised eigenvalues "
                    f"{np.round(ev, 6).tolist()} (marginal along the line, relevant across it), nu_RG = ln 2 / ln "
                    f"{lam:.6f} = {nu_rg:.6f}; ")
        except ValueError as exc:
            text = f"No RG eigenvalues: {exc} "
        sections.append(Section(
            "Renormalization group along depth",
            [text + f"fitted nu from xi_c ~ |chi_1 - 1|^-nu: {fit.nu:.4f} +- {fit.nu_error:.1g}."],
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
        sigma_b2: float = typer.Option(
            0.05, "--sigma-b2", help="bias variance sigma_b^2 of the depth-scale cut, critical point and simulations "
            "(evaluated at exactly this value; the phase-diagram map spans [0, max(0.5, 1.25 sigma_b^2)])"),
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
        if not (np.isfinite(sigma_b2) and sigma_b2 >= 0):
            raise UserError(f"--sigma-b2 (the bias variance) must be finite and >= 0, got {sigma_b2}.")
        if simulate:  # refused before the run directory and the phase diagram, not after them
            for flag, value, least in (("--width", width, 2), ("--depth", depth, 1), ("--n-networks", n_networks, 2)):
                if value < least:
                    raise UserError(f"{flag} must be at least {least} for the simulations, got {value} "
                                    "(or pass --no-simulate).")
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
