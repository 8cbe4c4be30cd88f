"""``spinlens landscape`` and ``spinlens hessian``: loss-landscape geometry of a small MLP on bundled data."""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import typer

from spinlens.cli._common import UserError, console, open_run, progress_bar

__all__ = ["register"]


def _build_mlp(widths: list[int], activation: str) -> Any:
    from torch import nn

    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}
    if activation not in acts:
        raise UserError(f"unknown activation {activation!r}; choose one of {sorted(acts)}.")
    layers: list[nn.Module] = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(acts[activation]())
    return nn.Sequential(*layers)


def _data(dataset: str, n_train: int, seed: int) -> tuple[Any, Any, Any, Any, int, int]:
    import torch

    from spinlens.data import load_digits, load_mnist5000

    if dataset == "digits":
        ds = load_digits()
    elif dataset == "mnist5000":
        ds = load_mnist5000()
    else:
        raise UserError(f"unknown dataset {dataset!r}; choose 'digits' or 'mnist5000'.")
    tr, te = ds.split(0.2, rng=seed)
    n = min(n_train, len(tr.y)) if n_train > 0 else len(tr.y)
    f = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return (f(tr.X[:n]), torch.as_tensor(tr.y[:n]), f(te.X), torch.as_tensor(te.y), ds.X.shape[1], ds.n_classes)


def _train(net: Any, X: Any, y: Any, epochs: int, lr: float, seed: int, record: bool = False) -> list[np.ndarray]:
    import torch

    from spinlens.landscape import flat_parameters

    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    traj = [flat_parameters(net)] if record else []
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=g)
        for s in range(0, len(y), 128):
            idx = perm[s : s + 128]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(X[idx]), y[idx]).backward()
            opt.step()
        if record:
            traj.append(flat_parameters(net))
    return traj


def _load_or_train(model_path: Path | None, widths: list[int], activation: str, X: Any, y: Any, epochs: int,
                   lr: float, seed: int, record: bool = False) -> tuple[Any, list[np.ndarray]]:
    import torch

    torch.manual_seed(seed)
    net = _build_mlp(widths, activation)
    if model_path is not None:
        if not model_path.exists():
            raise FileNotFoundError(f"model file {model_path} does not exist.")
        if model_path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(model_path))
        else:
            sd = torch.load(model_path, map_location="cpu", weights_only=True)
        try:
            net.load_state_dict(sd)
        except RuntimeError as exc:
            raise UserError(f"{model_path} does not fit the MLP {widths} ({activation}): {exc}") from exc
        return net, []
    return net, _train(net, X, y, epochs, lr, seed, record)


def _accuracy(net: Any, X: Any, y: Any) -> float:
    import torch

    with torch.no_grad():
        return float((net(X).argmax(1) == y).float().mean())


def _widths(hidden: str, d_in: int, d_out: int) -> list[int]:
    try:
        hs = [int(h) for h in hidden.split(",") if h.strip()]
    except ValueError as exc:
        raise UserError(f"--hidden must be comma-separated integers, got {hidden!r}.") from exc
    return [d_in, *hs, d_out]


def landscape(
    dataset: str = typer.Option("digits", help="digits or mnist5000."),
    hidden: str = typer.Option("32", help="Hidden widths, comma separated."),
    activation: str = typer.Option("relu", help="relu, tanh or gelu."),
    epochs: int = typer.Option(20, help="Training epochs (Adam, batch 128)."),
    lr: float = typer.Option(3e-3, help="Adam learning rate."),
    n_train: int = typer.Option(0, help="Training samples (0 = all of the training split)."),
    model: Path | None = typer.Option(None, help="Load a state dict (.pt/.safetensors) instead of training A."),
    grid: int = typer.Option(41, help="Grid points per axis of each plane."),
    k: int = typer.Option(5, help="Eigenpairs per end of the spectrum."),
    n_planes: int = typer.Option(50, help="Random planes for the saddle/minimum statistics."),
    seed: int = typer.Option(0, help="Seed."),
    out: Path = typer.Option(Path("runs/landscape"), help="Run directory."),
) -> None:
    """Train (or load) a small MLP; Hessian spectrum, random vs Hessian planes, PCA path, mode connectivity."""
    import torch

    from spinlens import landscape as ls
    from spinlens.landscape import plots
    from spinlens.report import Section, write_report

    t0 = time.perf_counter()
    X, y, Xt, yt, d_in, d_out = _data(dataset, n_train, seed)
    widths = _widths(hidden, d_in, d_out)
    config = {k_: v for k_, v in locals().items() if k_ in ("dataset", "hidden", "activation", "epochs", "lr",
                                                            "n_train", "grid", "k", "n_planes", "seed")}
    config["model"] = str(model) if model else None
    run = open_run(out, config=config, seeds={"seed": seed})
    loss = torch.nn.functional.cross_entropy
    data = (X, y)
    console.print(f"training two {widths} {activation} MLPs on {len(y)} {dataset} images …")
    net_a, traj = _load_or_train(model, widths, activation, X, y, epochs, lr, seed, record=True)
    net_b, _ = _load_or_train(None, widths, activation, X, y, epochs, lr, seed + 1)
    net_a.eval()
    net_b.eval()
    op = ls.HessianOperator(net_a, loss, data, dtype=torch.float64, device="cpu")
    with progress_bar("Lanczos eigenpairs") as cb:
        eigs = ls.hessian_eigs(op, k=k, which="both", rng=seed, progress=cb)
    tr = ls.hessian_trace(op, n_matvec=45, rng=seed)
    with progress_bar("spectral density") as cb:
        dens = ls.spectral_density(op, n_steps=60, n_vectors=2, rng=seed, progress=cb)
    lmax, lmin = float(eigs.eigenvalues[0]), float(eigs.eigenvalues[k])
    run.save_result(eigs, "hessian_eigs")
    run.save_result(tr, "hessian_trace")
    run.save_result(dens, "spectral_density")

    # planes: unit random vs Hessian eigenvectors (same Euclidean span), filter-normalised, PCA + path
    span = 2.5 / math.sqrt(max(abs(lmax), 1e-8))
    g = np.random.default_rng(seed)
    hess_dirs = np.stack([eigs.eigenvectors[0], eigs.eigenvectors[k]])
    rand_dirs = ls.orthonormalize([g.standard_normal(op.n_params) for _ in range(2)])
    kw: dict[str, Any] = {"n_points": grid, "span": (-span, span), "device": "cpu"}
    s_rand = ls.surface_2d(net_a, loss, data, rand_dirs, **kw)
    s_hess = ls.surface_2d(net_a, loss, data, hess_dirs, **kw)
    s_filt = ls.surface_2d(net_a, loss, data, "random", n_points=grid, span=(-1, 1), rng=seed, device="cpu")
    surfaces = {"random_unit": s_rand, "hessian": s_hess, "random_filter": s_filt}
    pca_fig = None
    if len(traj) >= 3:
        pca = ls.pca_directions(traj)
        c = pca.coordinates
        pad = 0.25 * max(np.ptp(c[:, 0]), np.ptp(c[:, 1]), 1e-3)
        box = (c[:, 0].min() - pad, c[:, 0].max() + pad, c[:, 1].min() - pad, c[:, 1].max() + pad)
        s_pca = ls.surface_2d(net_a, loss, data, pca.directions, n_points=grid, device="cpu", span=box,
                              trajectory=np.asarray(traj))
        surfaces["pca"] = s_pca
        evr = 100 * pca.explained_variance_ratio
        pca_fig = plots.plot_contour(s_pca, title="PCA plane of the training path",
                                     labels=(f"PC1 ({evr[0]:.1f}% of variance)", f"PC2 ({evr[1]:.1f}%)"))
    for name, s in surfaces.items():
        run.save_result(s, f"surface_{name}")

    proj_r = ls.projection_curvature(op, directions=rand_dirs, extremes=(lmin, lmax))
    proj_h = ls.projection_curvature(op, directions=hess_dirs, extremes=(lmin, lmax))
    # mu from the trace (mean eigenvalue) and the SLQ second moment (tr H^2 / N)
    m1 = tr.trace.mean / op.n_params
    sd = math.sqrt(max(dens.moment(2) - m1**2, 1e-300))
    stats = ls.random_plane_statistics(op, n_planes=n_planes, mean_eig=m1, std_eig=sd, rng=seed)
    run.save_result(stats, "random_plane_statistics")

    interp = ls.interpolate(net_a, net_b, loss, data, n_points=21, align=True, device="cpu")
    run.save_result(interp, "interpolation")

    figs = {
        "spectrum": plots.plot_spectrum(dens, eigs, title=f"Hessian spectrum (N = {op.n_params})"),
        "planes": plots.plot_planes([s_rand, s_hess], ["random plane (unit directions)",
                                    "Hessian plane (top and bottom eigenvectors)"],
                                    suptitle=f"random vs Hessian plane, same span ±{span:.3g} (= 2.5/√λ_max)",
                                    labels=[("α (random u1)", "β (random u2)"),
                                            (f"α (e_max, λ={lmax:.3g})", f"β (e_min, λ={lmin:.3g})")]),
        "filter_plane": plots.plot_contour(s_filt, title="random filter-normalised plane (Li et al.)"),
        "surface3d": plots.plot_surface3d(s_hess, title="Hessian plane"),
        "interpolation": plots.plot_interpolation(interp, title="A → B, naive and weight-matched"),
    }
    if pca_fig is not None:
        figs["pca_plane"] = pca_fig
    paths = {name: run.save_figure(f, name) for name, f in figs.items()}

    acc = {"train_acc_A": _accuracy(net_a, X, y), "test_acc_A": _accuracy(net_a, Xt, yt),
           "test_acc_B": _accuracy(net_b, Xt, yt)}
    summary = {
        **acc,
        "n_params": op.n_params,
        "loss_A": op.loss(),
        "lambda_max": lmax,
        "lambda_min": lmin,
        "trace": tr.trace.mean,
        "trace_error": tr.trace.error,
        "mu": stats.mu,
        "barrier_naive": interp.barrier_unaligned,
        "barrier_matched": interp.barrier,
        "seconds": time.perf_counter() - t0,
    }
    run.save_json(summary, "summary")
    sections = [
        Section("Model", text=[f"MLP {widths} ({activation}) trained on {len(y)} {dataset} images; "
                               f"{op.n_params} parameters."],
                tables=[("accuracies", [acc])]),
        Section("Hessian spectrum",
                text=["Lanczos (full reorthogonalisation, float64) for the signed extremes; stochastic Lanczos "
                      "quadrature with Gaussian broadening for the density; Hutch++ trace."],
                tables=[("extreme eigenvalues", [{"top": f"{a:.5g}", "bottom": f"{b:.5g}"} for a, b in
                                                 zip(eigs.eigenvalues[:k], eigs.eigenvalues[k:], strict=False)]),
                        ("trace", [{"trace": f"{tr.trace}", "mean eigenvalue": tr.mean_eigenvalue}])],
                figures=[(paths["spectrum"], "SLQ density (log scale) and Lanczos eigenvalues")]),
        Section("Random plane vs Hessian plane",
                text=["Böttcher & Wheeler (2022): along a random direction the curvature is a weighted average of "
                      "all eigenvalues, so random planes hide the extreme (and negative) curvatures that the "
                      "Hessian eigenvectors show."],
                tables=[("principal curvatures of the plane vs the true extremes", [
                    {"plane": "random", "κ1": proj_r.principal_curvatures[0], "κ2": proj_r.principal_curvatures[1],
                     "looks like": proj_r.kind, "λ_min": lmin, "λ_max": lmax},
                    {"plane": "Hessian", "κ1": proj_h.principal_curvatures[0], "κ2": proj_h.principal_curvatures[1],
                     "looks like": proj_h.kind, "λ_min": lmin, "λ_max": lmax}]),
                    ("random planes: how the point looks (measured vs GOE(2))", [
                        {"": "measured", "min": stats.p_min, "max": stats.p_max, "saddle": stats.p_saddle},
                        {"": f"GOE(2), μ={stats.mu:.3g}", "min": stats.goe_min, "max": stats.goe_max,
                         "saddle": stats.goe_saddle}])],
                figures=[(paths["planes"], "left: random unit plane; middle: plane of the top and bottom "
                          "eigenvectors (each with its own colour scale); right: cuts through the centre on one "
                          "scale — the random plane is nearly flat"),
                         (paths["surface3d"], "Hessian plane as a surface"),
                         (paths["filter_plane"], "random filter-normalised plane")]
                + ([(paths["pca_plane"], "PCA plane with the training path")] if "pca_plane" in paths else [])),
        Section("Mode connectivity",
                text=[f"Barrier (vs interpolated endpoint losses): naive {interp.barrier_unaligned:.4g}, after weight "
                      f"matching {interp.barrier:.4g}; against the mean endpoint loss {interp.barrier_mean:.4g}."],
                figures=[(paths["interpolation"], "loss along the straight line between two solutions")]),
    ]
    write_report(run.path, "spinlens landscape", sections, run.manifest)
    console.print(f"λ_max={lmax:.4g} λ_min={lmin:.4g} trace={tr.trace} barrier naive/matched="
                  f"{interp.barrier_unaligned:.3g}/{interp.barrier:.3g}; report: {run.path / 'report.html'}")


def hessian(
    dataset: str = typer.Option("digits", help="digits or mnist5000."),
    hidden: str = typer.Option("32", help="Hidden widths, comma separated."),
    activation: str = typer.Option("relu", help="relu, tanh or gelu."),
    model: Path | None = typer.Option(None, help="State dict (.pt/.safetensors) of the MLP; else train one."),
    epochs: int = typer.Option(30, help="Training epochs when no model is given."),
    lr: float = typer.Option(3e-3, help="Adam learning rate."),
    n_train: int = typer.Option(0, help="Samples the Hessian averages over (0 = training split)."),
    k: int = typer.Option(5, help="Eigenpairs per end."),
    which: str = typer.Option("both", help="top, bottom or both."),
    trace_matvec: int = typer.Option(99, help="Hessian-vector products for Hutch++."),
    density_steps: int = typer.Option(80, help="Lanczos steps per SLQ vector."),
    density_vectors: int = typer.Option(4, help="SLQ start vectors."),
    float64: bool = typer.Option(True, help="Compute in float64."),
    backend: str = typer.Option("double_backward", help="double_backward or forward_over_reverse."),
    seed: int = typer.Option(0, help="Seed."),
    out: Path = typer.Option(Path("runs/hessian"), help="Run directory."),
) -> None:
    """Hessian eigenpairs (signed), trace and spectral density of an MLP's loss."""
    import torch

    from spinlens import landscape as ls
    from spinlens.landscape import plots
    from spinlens.report import Section, write_report

    X, y, _, _, d_in, d_out = _data(dataset, n_train, seed)
    widths = _widths(hidden, d_in, d_out)
    run = open_run(out, config={"dataset": dataset, "hidden": hidden, "activation": activation, "k": k,
                                "which": which, "model": str(model) if model else None, "backend": backend,
                                "float64": float64}, seeds={"seed": seed})
    net, _ = _load_or_train(model, widths, activation, X, y, epochs, lr, seed)
    net.eval()
    op = ls.HessianOperator(net, torch.nn.functional.cross_entropy, (X, y), backend=backend,
                            dtype=torch.float64 if float64 else None, device="cpu")
    with progress_bar("Lanczos") as cb:
        eigs = ls.hessian_eigs(op, k=k, which=which, rng=seed, progress=cb)
    tr = ls.hessian_trace(op, n_matvec=trace_matvec, rng=seed)
    with progress_bar("SLQ") as cb:
        dens = ls.spectral_density(op, n_steps=density_steps, n_vectors=density_vectors, rng=seed, progress=cb)
    run.save_result(eigs, "hessian_eigs")
    run.save_result(tr, "hessian_trace")
    run.save_result(dens, "spectral_density")
    p = run.save_figure(plots.plot_spectrum(dens, eigs, title=f"Hessian spectrum (N = {op.n_params})"), "spectrum")
    run.save_json({"eigenvalues": eigs.eigenvalues, "trace": tr.trace, "n_params": op.n_params}, "summary")
    write_report(run.path, "spinlens hessian", [Section(
        "Hessian", text=[f"MLP {widths} ({activation}); {op.n_params} parameters; trace {tr.trace} (Hutch++)."],
        tables=[("eigenvalues", [{"i": i, "λ": float(v), "residual": float(r)}
                                 for i, (v, r) in enumerate(zip(eigs.eigenvalues, eigs.residuals, strict=False))])],
        figures=[(p, "SLQ density and Lanczos eigenvalues")])], run.manifest)
    console.print(f"eigenvalues: {np.array2string(eigs.eigenvalues, precision=5)}; trace {tr.trace}")


def register(app: typer.Typer) -> None:
    """Add ``landscape`` and ``hessian`` to the app."""
    app.command("landscape")(landscape)
    app.command("hessian")(hessian)
