"""``spinlens landscape`` and ``spinlens hessian``: loss-landscape geometry of a small MLP on bundled data."""
from __future__ import annotations

import hashlib
import math
import time
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import typer

from spinlens.cli._common import UserError, console, open_run, progress_bar

__all__ = ["register"]


#: Mini-batch size and optimiser of the training the CLI does (recorded in every manifest).
_BATCH = 128
_OPTIMIZER = "Adam"
#: Lanczos stopping rule passed to ``hessian_eigs``: residual tolerance and the largest Krylov space.
_LANCZOS_TOL = 1e-6


def _lanczos_max_steps(n_params: int, k: int, requested: int = 0) -> int:
    """The largest Krylov space for ``hessian_eigs``: ``--lanczos-steps``, or ``max(60, 10 k)``; at most N."""
    if requested < 0:
        raise UserError(f"--lanczos-steps must be >= 0 (0: max(60, 10 k)), got {requested}.")
    return int(min(n_params, requested or max(60, 10 * k)))


def _converged(eigs: Any) -> bool:
    """Every returned Ritz pair met the stopping rule ``||Hv − λv|| <= tol · max|θ|``."""
    return bool(np.all(eigs.residuals <= _LANCZOS_TOL * max(float(np.max(np.abs(eigs.ritz_values))), 1e-300)))


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
        for s in range(0, len(y), _BATCH):
            idx = perm[s : s + _BATCH]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(X[idx]), y[idx]).backward()
            opt.step()
        if record:
            traj.append(flat_parameters(net))
    return traj


# ------------------------------------------------------------------------------------------- --model
def _read_model_file(path: Path) -> dict[str, Any]:
    """The state dict in ``--model``, read with the one safe loader before anything is trained.

    ``load_checkpoint`` never unpickles arbitrary objects and raises FileNotFoundError or ValueError with a
    one-line message; nothing else may reach the user as a traceback.
    """
    from spinlens.networks.to_spins import load_checkpoint

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's pickle-protocol warnings add nothing to the one error line
        try:
            sd = load_checkpoint(path)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"--model {path} does not exist.") from exc
        except ValueError as exc:
            msg = str(exc)
            raise ValueError(msg if str(path) in msg else f"--model {path}: {msg}") from exc
        except Exception as exc:  # the loader's contract is ValueError; keep any slip a one-line refusal
            raise UserError(f"--model {path} could not be read as a state dict ({type(exc).__name__}); save the "
                            "network with torch.save(model.state_dict(), path) or as .safetensors.") from exc
    import torch

    for key, t in sd.items():
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            what = f"a {t.dtype} tensor" if isinstance(t, torch.Tensor) else f"a {type(t).__name__}"
            raise UserError(f"--model {path}: entry {key!r} is {what}, not floating-point weights; save the "
                            "float weights of the network (no quantised or integer tensors).")
        if not bool(torch.isfinite(t).all()):
            raise UserError(f"--model {path}: entry {key!r} contains NaN or inf: the network diverged or the file "
                            "is corrupt; pick an earlier checkpoint.")
    return dict(sd)


def _shape_advice(found: list[tuple[int, ...]], widths: list[int], dataset: str, activation: str) -> str:
    chain = all(len(s) == 2 for s in found) and all(found[i][1] == found[i - 1][0] for i in range(1, len(found)))
    if not found or not chain:
        return ("they do not form a chain of Linear layers in file order; save the state dict of an nn.Sequential "
                "of Linear layers with element-wise activations between them.")
    fw = [found[0][1]] + [s[0] for s in found]
    if fw[0] != widths[0]:
        return (f"its first layer takes {fw[0]} inputs but {dataset} has {widths[0]} features per image: pass the "
                "--dataset it was trained on.")
    if fw[-1] != widths[-1]:
        return (f"its last layer has {fw[-1]} outputs but {dataset} has {widths[-1]} classes: pass the --dataset it "
                "was trained on.")
    hidden = ",".join(str(w) for w in fw[1:-1])
    return (f"pass --hidden {hidden} to build that MLP {fw} (and the --activation it was trained with, "
            f"here {activation}).")


def _fit_checkpoint(net: Any, sd: dict[str, Any], path: Path, widths: list[int], activation: str,
                    dataset: str) -> str:
    """Load the state dict ``sd`` into the MLP ``net``; return how the keys were matched (for the manifest).

    Only the keys of the built ``nn.Sequential`` (``0.weight``, ``0.bias``, ``2.weight``, ...) are loaded, with
    their shapes checked (a mismatch is refused with the shapes expected and found and what to pass). Other names
    (``fc1.weight``, a ``model.`` prefix, ``blocks.0``) are refused: a state dict cannot show that such a network
    is the plain chain built here (the same rule as :func:`spinlens.networks.to_spins`).
    """
    from torch import nn

    linears = [name for name, m in net.named_modules() if isinstance(m, nn.Linear)]
    want = [tuple(int(d) for d in net.get_submodule(n).weight.shape) for n in linears]
    own = net.state_dict()

    if set(sd) != set(own):
        missing, extra = [k for k in own if k not in sd], [k for k in sd if k not in own]
        raise UserError(
            f"--model {path} does not hold the keys of the nn.Sequential MLP built here (missing {missing[:3]}, "
            f"unexpected {extra[:3]}). A state dict does not show the forward pass (layer order, skip connections), "
            "so other names are not matched by guessing: save the state_dict() of an nn.Sequential of Linear "
            "layers with element-wise activations."
        )
    found = [tuple(sd[f"{n}.weight"].shape) for n in linears]
    if found != want or any(sd[k].shape != own[k].shape for k in own):
        raise UserError(f"--model {path} does not fit the MLP {widths} ({activation}): its Linear weights have "
                        f"shapes {found} (out, in), the MLP expects {want}; "
                        + _shape_advice(found, widths, dataset, activation))
    net.load_state_dict(sd, strict=True)  # names and shapes checked above
    return "keys matched by name"


def _model_info(path: Path, how: str) -> dict[str, Any]:
    return {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "keys": how}


def _evaluate(net: Any, X: Any, y: Any) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``net`` on ``(X, y)``."""
    import torch

    with torch.no_grad():
        out = net(X)
        return float(torch.nn.functional.cross_entropy(out, y)), float((out.argmax(1) == y).float().mean())


def _widths(hidden: str, d_in: int, d_out: int) -> list[int]:
    try:
        hs = [int(h) for h in hidden.split(",") if h.strip()]
    except ValueError as exc:
        raise UserError(f"--hidden must be comma-separated integers, got {hidden!r}.") from exc
    if any(h < 1 for h in hs):
        raise UserError(f"--hidden widths must be positive integers, got {hidden!r}.")
    return [d_in, *hs, d_out]


def _solver_config(n_params: int, k: int, which: str, max_steps: int, trace_matvec: int, density_steps: int,
                   density_vectors: int, dtype: str, backend: str, n_samples: int) -> dict[str, Any]:
    return {
        "loss": "cross-entropy, mean over the samples",
        "n_samples": n_samples,
        "dtype": dtype,
        "backend": backend,
        "device": "cpu",
        "lanczos": {"k": k, "which": which, "tol": _LANCZOS_TOL, "max_steps": max_steps,
                    "reorthogonalisation": "full"},
        "trace": {"method": "hutch++", "n_matvec": trace_matvec},
        "density": {"n_steps": density_steps, "n_vectors": density_vectors},
    }


def _check_options(*, epochs: int | None, lr: float | None, n_train: int, k: int, lanczos_steps: int, seed: int,
                   grid: int | None = None, n_planes: int | None = None) -> None:
    """Refuse bad numbers before anything is read, trained or written (each message names its option)."""
    from spinlens.spins.model import as_count, as_positive

    if epochs is not None:
        as_count(epochs, "--epochs", minimum=1)
    if lr is not None:
        as_positive(lr, "--lr (learning rate)")
    as_count(n_train, "--n-train (training samples; 0 = all of the training split)", minimum=0)
    as_count(k, "--k (eigenpairs per end)", minimum=1)
    _lanczos_max_steps(1, 1, lanczos_steps)
    as_count(seed, "--seed", minimum=0)
    if grid is not None:
        as_count(grid, "--grid (points per axis)", minimum=2)
    if n_planes is not None:
        as_count(n_planes, "--n-planes", minimum=1)


def _check_k(k: int, n_params: int, ends: int) -> None:
    if ends * k > n_params:
        raise UserError(f"--k {k} asks for {ends * k} eigenpairs but the MLP has only {n_params} parameters; "
                        f"lower --k to at most {n_params // ends}.")


def _check_counts(trace_matvec: int, density_steps: int, density_vectors: int) -> None:
    if trace_matvec < 3:
        raise UserError(f"--trace-matvec must be at least 3 (Hutch++ uses a third for its sketch), got {trace_matvec}.")
    if density_steps < 2 or density_vectors < 1:
        raise UserError(f"--density-steps must be >= 2 and --density-vectors >= 1, got {density_steps} and "
                        f"{density_vectors}.")


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


class _Setup(NamedTuple):
    """What both commands need before any work: data, the MLP (loaded or freshly initialised), the --model info."""

    X: Any
    y: Any
    Xt: Any
    yt: Any
    widths: list[int]
    net: Any
    model: dict[str, Any] | None


def _setup(model: Path | None, dataset: str, hidden: str, activation: str, n_train: int, seed: int) -> _Setup:
    """Read and check ``--model`` first (nothing is trained or written for a file that is refused)."""
    import torch

    sd = _read_model_file(model) if model is not None else None
    X, y, Xt, yt, d_in, d_out = _data(dataset, n_train, seed)
    widths = _widths(hidden, d_in, d_out)
    torch.manual_seed(seed)
    net = _build_mlp(widths, activation)
    info = None
    if sd is not None and model is not None:
        info = _model_info(model, _fit_checkpoint(net, sd, model, widths, activation, dataset))
    return _Setup(X, y, Xt, yt, widths, net, info)


def _quality_row(name: str, source: str, net: Any, st: _Setup) -> dict[str, Any]:
    tl, ta = _evaluate(net, st.X, st.y)
    vl, va = _evaluate(net, st.Xt, st.yt)
    return {"model": name, "weights": source, "train loss": tl, "train accuracy": ta, "test loss": vl,
            "test accuracy": va}


def _solver_rows(eigs: Any, tr: Any, dens: Any, max_steps: int) -> list[dict[str, Any]]:
    return [{"Lanczos steps": f"{len(eigs.ritz_values)} of at most {max_steps}",
             "converged": "yes" if _converged(eigs) else "no: raise --lanczos-steps",
             "Hessian-vector products: eigenpairs": eigs.n_matvec, "trace (Hutch++)": tr.n_matvec,
             "density (SLQ)": dens.n_matvec, "largest eigenpair residual": float(np.max(eigs.residuals))}]


def landscape(
    dataset: str = typer.Option("digits", help="digits or mnist5000."),
    hidden: str = typer.Option("32", help="Hidden widths, comma separated (with --model: those of the file)."),
    activation: str = typer.Option("relu", help="relu, tanh or gelu."),
    epochs: int = typer.Option(20, help="Training epochs (Adam, batch 128)."),
    lr: float = typer.Option(3e-3, help="Adam learning rate."),
    n_train: int = typer.Option(0, help="Training samples (0 = all of the training split)."),
    model: Path | None = typer.Option(None, help="State dict (.pt/.ckpt/.safetensors) of network A (B is trained)."),
    grid: int = typer.Option(41, help="Grid points per axis of each plane."),
    k: int = typer.Option(5, help="Eigenpairs per end of the spectrum."),
    n_planes: int = typer.Option(50, help="Random planes for the saddle/minimum statistics."),
    lanczos_steps: int = typer.Option(0, help="Largest Lanczos space for the eigenpairs (0: max(60, 10 k), ≤ N)."),
    trace_matvec: int = typer.Option(45, help="Hessian-vector products for the Hutch++ trace."),
    density_steps: int = typer.Option(60, help="Lanczos steps per SLQ vector."),
    density_vectors: int = typer.Option(2, help="SLQ start vectors."),
    seed: int = typer.Option(0, help="Seed."),
    out: Path = typer.Option(Path("runs/landscape"), help="Run directory."),
) -> None:
    """Train (or load) a small MLP; Hessian spectrum, random vs Hessian planes, PCA path, mode connectivity."""
    import torch

    from spinlens import landscape as ls
    from spinlens.landscape import plots
    from spinlens.report import Section, write_report

    t0 = time.perf_counter()
    _check_options(epochs=epochs, lr=lr, n_train=n_train, k=k, lanczos_steps=lanczos_steps, seed=seed, grid=grid,
                   n_planes=n_planes)
    _check_counts(trace_matvec, density_steps, density_vectors)
    st = _setup(model, dataset, hidden, activation, n_train, seed)
    X, y, yt, widths, net_a = st.X, st.y, st.yt, st.widths, st.net
    n_params = sum(p.numel() for p in net_a.parameters())
    _check_k(k, n_params, 2)
    max_steps = _lanczos_max_steps(n_params, k, lanczos_steps)
    n_interp = 21
    config = {
        "dataset": dataset, "widths": widths, "hidden": hidden, "activation": activation, "model": st.model,
        "training": {"networks": ["B"] if st.model else ["A", "B"], "optimizer": _OPTIMIZER, "batch_size": _BATCH,
                     "epochs": epochs, "lr": lr, "n_train": len(y), "seeds": {"A": seed, "B": seed + 1}},
        "solver": _solver_config(n_params, k, "both", max_steps, trace_matvec, density_steps, density_vectors,
                                 "float64", "double_backward", len(y)),
        "grid": grid, "n_planes": n_planes, "interpolation_points": n_interp,
        "spans": {"random_unit and hessian planes": "±2.5/√λ_max", "random_filter plane": "±1 (filter-normalised)",
                  "pca plane": "training path + 25 % padding"},
        "seed": seed,
    }
    run = open_run(out, config=config, seeds={"seed": seed, "seed_B": seed + 1})
    loss = torch.nn.functional.cross_entropy
    data = (X, y)
    t_train = time.perf_counter()
    if st.model is None:
        console.print(f"training two {widths} {activation} MLPs on {len(y)} {dataset} images …")
        traj = _train(net_a, X, y, epochs, lr, seed, record=True)
    else:
        console.print(f"A read from {model}; training B, a {widths} {activation} MLP, on {len(y)} {dataset} images …")
        traj = []
    torch.manual_seed(seed + 1)
    net_b = _build_mlp(widths, activation)
    _train(net_b, X, y, epochs, lr, seed + 1)
    train_seconds = time.perf_counter() - t_train
    net_a.eval()
    net_b.eval()
    op = ls.HessianOperator(net_a, loss, data, dtype=torch.float64, device="cpu")
    with progress_bar("Lanczos eigenpairs") as cb:
        eigs = ls.hessian_eigs(op, k=k, which="both", tol=_LANCZOS_TOL, max_iter=max_steps, rng=seed, progress=cb)
    if not _converged(eigs):
        console.print(f"[yellow]warning: Lanczos stopped at its limit of {max_steps} steps before every eigenpair met "
                      f"its tolerance (largest residual {float(np.max(eigs.residuals)):.2g}); raise --lanczos-steps."
                      "[/yellow]")
    tr = ls.hessian_trace(op, n_matvec=trace_matvec, rng=seed)
    with progress_bar("spectral density") as cb:
        dens = ls.spectral_density(op, n_steps=density_steps, n_vectors=density_vectors, rng=seed, progress=cb)
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

    interp = ls.interpolate(net_a, net_b, loss, data, n_points=n_interp, align=True, device="cpu")
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

    trained = f"trained ({epochs} epochs)"
    quality = [_quality_row("A", f"read from {model.name}" if st.model and model else trained, net_a, st),
               _quality_row("B", trained, net_b, st)]
    seconds = time.perf_counter() - t0
    summary = {
        "train_acc_A": quality[0]["train accuracy"], "test_acc_A": quality[0]["test accuracy"],
        "train_loss_A": quality[0]["train loss"], "test_loss_A": quality[0]["test loss"],
        "train_acc_B": quality[1]["train accuracy"], "test_acc_B": quality[1]["test accuracy"],
        "train_loss_B": quality[1]["train loss"], "test_loss_B": quality[1]["test loss"],
        "n_params": op.n_params,
        "loss_A": op.loss(),
        "lambda_max": lmax,
        "lambda_min": lmin,
        "trace": tr.trace.mean,
        "trace_error": tr.trace.error,
        "mu": stats.mu,
        "barrier_naive": interp.barrier_unaligned,
        "barrier_matched": interp.barrier,
        "lanczos_steps": len(eigs.ritz_values),
        "lanczos_converged": _converged(eigs),
        "n_matvec": {"eigs": eigs.n_matvec, "trace": tr.n_matvec, "density": dens.n_matvec},
        "train_seconds": train_seconds,
        "seconds": seconds,
    }
    run.save_json(summary, "summary")
    source = (f"A read from {model} ({st.model['keys']}); B trained" if st.model and model else "both trained")
    sections = [
        Section("Model",
                text=[f"MLP {widths} ({activation}), {op.n_params} parameters, on {len(y)} {dataset} training images "
                      f"({len(yt)} test images); {source} with {_OPTIMIZER} (lr {lr:g}, batch {_BATCH}, {epochs} "
                      f"epochs, seeds {seed} and {seed + 1}).",
                      f"run time: {_fmt_s(seconds)} in all, of which training {_fmt_s(train_seconds)}."],
                tables=[("loss (cross-entropy) and accuracy", quality)]),
        Section("Hessian spectrum",
                text=["Lanczos (full reorthogonalisation, float64) for the signed extremes; stochastic Lanczos "
                      "quadrature with Gaussian broadening for the density; Hutch++ trace."],
                tables=[("extreme eigenvalues", [{"top": f"{a:.5g}", "bottom": f"{b:.5g}"} for a, b in
                                                 zip(eigs.eigenvalues[:k], eigs.eigenvalues[k:], strict=False)]),
                        ("trace", [{"trace": f"{tr.trace}", "mean eigenvalue": tr.mean_eigenvalue}]),
                        ("solver work", _solver_rows(eigs, tr, dens, max_steps))],
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
    hidden: str = typer.Option("32", help="Hidden widths, comma separated (with --model: those of the file)."),
    activation: str = typer.Option("relu", help="relu, tanh or gelu."),
    model: Path | None = typer.Option(None, help="State dict (.pt/.ckpt/.safetensors) of the MLP; else train one."),
    epochs: int | None = typer.Option(None, help="Training epochs when no model is given (default 30)."),
    lr: float | None = typer.Option(None, help="Adam learning rate when no model is given (default 0.003)."),
    n_train: int = typer.Option(0, help="Samples the Hessian averages over (0 = training split)."),
    k: int = typer.Option(5, help="Eigenpairs per end."),
    which: str = typer.Option("both", help="top, bottom or both."),
    lanczos_steps: int = typer.Option(0, help="Largest Lanczos space for the eigenpairs (0: max(60, 10 k), ≤ N)."),
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

    t0 = time.perf_counter()
    _check_options(epochs=epochs, lr=lr, n_train=n_train, k=k, lanczos_steps=lanczos_steps, seed=seed)
    _check_counts(trace_matvec, density_steps, density_vectors)
    if which not in ("top", "bottom", "both"):
        raise UserError(f"--which must be top, bottom or both, got {which!r}.")
    if backend not in ("double_backward", "forward_over_reverse"):
        raise UserError(f"--backend must be double_backward or forward_over_reverse, got {backend!r}.")
    if model is not None and (epochs is not None or lr is not None):
        given = ", ".join(f for f, v in (("--epochs", epochs), ("--lr", lr)) if v is not None)
        raise UserError(f"{given} set{'s' if ',' not in given else ''} the training of the MLP; with --model the "
                        f"weights are read from the file and nothing is trained: drop {given}.")
    epochs = 30 if epochs is None else epochs
    lr = 3e-3 if lr is None else lr
    st = _setup(model, dataset, hidden, activation, n_train, seed)
    X, y, widths, net = st.X, st.y, st.widths, st.net
    n_params = sum(p.numel() for p in net.parameters())
    _check_k(k, n_params, 2 if which == "both" else 1)
    max_steps = _lanczos_max_steps(n_params, k, lanczos_steps)
    training: dict[str, Any] = (
        {"trained": True, "optimizer": _OPTIMIZER, "batch_size": _BATCH, "epochs": epochs, "lr": lr, "n_train": len(y),
         "seed": seed} if st.model is None else {"trained": False, "note": "weights read from --model"})
    config = {"dataset": dataset, "widths": widths, "hidden": hidden, "activation": activation, "model": st.model,
              "training": training,
              "solver": _solver_config(n_params, k, which, max_steps, trace_matvec, density_steps, density_vectors,
                                       "float64" if float64 else "float32", backend, len(y)),
              "seed": seed}
    run = open_run(out, config=config, seeds={"seed": seed})
    t_train = time.perf_counter()
    if st.model is None:
        _train(net, X, y, epochs, lr, seed)
    train_seconds = time.perf_counter() - t_train
    net.eval()
    op = ls.HessianOperator(net, torch.nn.functional.cross_entropy, (X, y), backend=backend,
                            dtype=torch.float64 if float64 else None, device="cpu")
    with progress_bar("Lanczos") as cb:
        eigs = ls.hessian_eigs(op, k=k, which=which, tol=_LANCZOS_TOL, max_iter=max_steps, rng=seed, progress=cb)
    if not _converged(eigs):
        console.print(f"[yellow]warning: Lanczos stopped at its limit of {max_steps} steps before every eigenpair met "
                      f"its tolerance (largest residual {float(np.max(eigs.residuals)):.2g}); raise --lanczos-steps."
                      "[/yellow]")
    tr = ls.hessian_trace(op, n_matvec=trace_matvec, rng=seed)
    with progress_bar("SLQ") as cb:
        dens = ls.spectral_density(op, n_steps=density_steps, n_vectors=density_vectors, rng=seed, progress=cb)
    run.save_result(eigs, "hessian_eigs")
    run.save_result(tr, "hessian_trace")
    run.save_result(dens, "spectral_density")
    p = run.save_figure(plots.plot_spectrum(dens, eigs, title=f"Hessian spectrum (N = {op.n_params})"), "spectrum")
    source = (f"read from {model} ({st.model['keys']})" if st.model and model else
              f"trained with {_OPTIMIZER} (lr {lr:g}, batch {_BATCH}, {epochs} epochs, seed {seed})")
    q = _quality_row("MLP", "read from file" if st.model else f"trained ({epochs} epochs)", net, st)
    seconds = time.perf_counter() - t0
    run.save_json({"eigenvalues": eigs.eigenvalues, "trace": tr.trace, "n_params": op.n_params,
                   "loss": op.loss(), "train_loss": q["train loss"], "train_accuracy": q["train accuracy"],
                   "test_loss": q["test loss"], "test_accuracy": q["test accuracy"],
                   "lanczos_steps": len(eigs.ritz_values), "lanczos_converged": _converged(eigs),
                   "n_matvec": {"eigs": eigs.n_matvec, "trace": tr.n_matvec, "density": dens.n_matvec},
                   "train_seconds": train_seconds, "seconds": seconds}, "summary")
    write_report(run.path, "spinlens hessian", [
        Section("Model",
                text=[f"MLP {widths} ({activation}), {op.n_params} parameters, {source}; the Hessian is that of the "
                      f"mean cross-entropy over {len(y)} {dataset} training images ({len(st.yt)} test images).",
                      f"run time: {_fmt_s(seconds)} in all, "
                      + (f"of which training {_fmt_s(train_seconds)}." if st.model is None else
                         "no training (the weights were read from --model).")],
                tables=[("loss (cross-entropy) and accuracy", [q])]),
        Section("Hessian",
                text=[f"trace {tr.trace} (Hutch++); Lanczos with full reorthogonalisation "
                      f"({'float64' if float64 else 'float32'}, {backend}) for the signed extremes, stopped at "
                      f"residual ≤ {_LANCZOS_TOL:g}·max|θ|; stochastic Lanczos quadrature for the density."],
                tables=[("eigenvalues", [{"i": i, "λ": float(v), "residual": float(r)}
                                         for i, (v, r) in enumerate(zip(eigs.eigenvalues, eigs.residuals,
                                                                         strict=False))]),
                        ("solver work", _solver_rows(eigs, tr, dens, max_steps))],
                figures=[(p, "SLQ density and Lanczos eigenvalues")])], run.manifest)
    console.print(f"eigenvalues: {np.array2string(eigs.eigenvalues, precision=5)}; trace {tr.trace}")


def register(app: typer.Typer) -> None:
    """Add ``landscape`` and ``hessian`` to the app."""
    app.command("landscape")(landscape)
    app.command("hessian")(hessian)
