"""``spinlens rbm train``: train an RBM on bundled digits and report likelihood, samples and filters."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer

from spinlens.cli._common import UserError, console, open_run, progress_bar

__all__ = ["register"]

TEST_FRACTION = 0.2  # held-out share of the dataset
N_SAMPLES, N_GIBBS = 50, 1000  # chains of the sample figure and their Gibbs steps


def train(
    dataset: str = typer.Option("digits", help="digits (8x8) or mnist5000 (28x28), binarised"),
    n_hidden: int = typer.Option(64, help="hidden units (<= 20 gives exact log Z)"),
    n_epochs: int = typer.Option(60, help="training epochs"),
    learning_rate: float = typer.Option(0.02, help="learning rate (on the batch-mean gradient)"),
    batch_size: int = typer.Option(20, help="minibatch size"),
    k: int = typer.Option(1, help="Gibbs steps per update"),
    persistent: bool = typer.Option(False, help="persistent CD (PCD) instead of CD-k (CD-1 reached the higher "
                                    "held-out likelihood on digits with these defaults)"),
    momentum: float = typer.Option(0.5, help="momentum"),
    weight_decay: float = typer.Option(1e-4, help="L2 weight decay"),
    eval_every: int = typer.Option(10, help="epochs between held-out log-likelihood evaluations"),
    n_betas: int = typer.Option(3000, help="AIS intermediate distributions"),
    n_chains: int = typer.Option(100, help="AIS chains"),
    threads: int = typer.Option(1, help="torch threads"),
    seed: int = typer.Option(0, help="random seed"),
    out: Path = typer.Option(Path("runs/rbm-train"), help="run directory"),
) -> None:
    """Train a Bernoulli RBM; report the held-out log-likelihood curve (AIS or exact log Z), samples and filters."""
    from spinlens.boltzmann import RBM, filters_figure, image_grid_figure
    from spinlens.boltzmann.ais import MAX_EXACT_UNITS
    from spinlens.data import load_dataset
    from spinlens.report import Section, new_figure, write_report

    if dataset not in ("digits", "mnist5000"):
        raise UserError(f"unknown dataset {dataset!r}; choose digits or mnist5000.")
    for opt, v in (("--eval-every", eval_every), ("--n-betas", n_betas), ("--n-chains", n_chains),
                   ("--threads", threads)):
        if v < 1:
            raise UserError(f"{opt} must be >= 1, got {v}.")
    rbm = RBM(n_hidden=n_hidden, n_epochs=n_epochs, learning_rate=learning_rate, batch_size=batch_size, k=k,
              persistent=persistent, momentum=momentum, weight_decay=weight_decay, rng=seed, n_threads=threads)
    try:  # refuse bad settings before the dataset is loaded and the run directory is made
        rbm._check_params()
    except ValueError as exc:  # the library names the parameter; say which option sets it
        name = str(exc).split()[0]
        opt = f" (option --{name.replace('_', '-')})" if name in rbm.get_params() else ""
        raise UserError(f"{str(exc).rstrip('.')}{opt}.") from None
    d = load_dataset(dataset, binarize=True)
    tr, te = d.split(TEST_FRACTION, rng=seed)
    method = "exact" if min(n_hidden, tr.X.shape[1]) <= MAX_EXACT_UNITS else "AIS"
    params = {key: str(v) if key == "dtype" else v for key, v in rbm.get_params().items()
              if key not in ("rng", "n_threads")}
    cfg = dict(dataset=dataset, binarize="pixel > 0.5", test_fraction=TEST_FRACTION, n_train=len(tr.X),
               n_test=len(te.X), n_visible=int(tr.X.shape[1]), image_shape=list(d.image_shape), **params,
               eval_every=eval_every, log_z_method=method,
               ais={"n_betas": n_betas, "n_chains": n_chains} if method == "AIS" else "not used (exact log Z)",
               samples={"n_chains": N_SAMPLES, "n_gibbs": N_GIBBS, "init": "held-out images"}, threads=threads)
    run = open_run(out, config=cfg, seeds={"seed": seed})
    curve: list[dict[str, Any]] = []

    def evaluate(epoch: int, model: RBM) -> None:
        if epoch % eval_every and epoch != n_epochs:
            return
        lz = model.log_partition(method=method.lower(), n_chains=n_chains, n_betas=n_betas,  # type: ignore[arg-type]
                                 rng=seed + epoch)
        curve.append({"epoch": epoch, "log_Z": lz.mean, "log_Z_error": lz.error,
                      "train_ll": model.score(tr.X, log_z=lz), "test_ll": model.score(te.X, log_z=lz)})

    with progress_bar("training", total=n_epochs) as cb:
        rbm.fit(tr.X, progress=cb, callback=evaluate)
    ep = np.array([c["epoch"] for c in curve])
    fig, ax = new_figure()
    ax.errorbar(ep, [c["train_ll"] for c in curve], yerr=[c["log_Z_error"] for c in curve], fmt="o-", label="train")
    ax.errorbar(ep, [c["test_ll"] for c in curve], yerr=[c["log_Z_error"] for c in curve], fmt="s-", label="held out")
    # reference: independent pixels with the training means (the AIS base-rate model), held-out data
    pm = np.clip(tr.X.mean(0), 1e-3, 1 - 1e-3)
    ll_base = float(np.mean(te.X @ np.log(pm) + (1 - te.X) @ np.log1p(-pm)))
    ax.axhline(ll_base, color="gray", ls=":", lw=1.2, label=f"independent pixels, held out ({ll_base:.1f})")
    ax.set(xlabel="epoch", ylabel="average log-likelihood (nats)", title=f"RBM on {dataset} (log Z: {method})")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    f_curve = run.save_figure(fig, "likelihood")
    samples = rbm.sample(N_SAMPLES, n_gibbs=N_GIBBS, rng=seed, init=te.X[:N_SAMPLES], return_probabilities=True)
    # first row: the held-out images the first ten chains start from; below: all 50 chains 1000 steps later
    grid = image_grid_figure(np.vstack([te.X[:10], samples]), d.image_shape, ncols=10,
                             title=f"top row: held-out start images; rows 2-6: p(v|h) after {N_GIBBS} Gibbs steps")
    f_samp = run.save_figure(grid, "samples")
    f_filt = run.save_figure(filters_figure(rbm, d.image_shape, n_filters=min(64, n_hidden)), "filters")
    run.save_json({"curve": curve, "epoch_time": rbm.history_["epoch_time"],
                   "reconstruction_error": rbm.history_["reconstruction_error"]}, "results")
    run.save_arrays("rbm", W=rbm.weights_, b=rbm.intercept_visible_, c=rbm.intercept_hidden_, samples=samples)
    last = curve[-1]
    text = [f"Final held-out log-likelihood {last['test_ll']:.2f} nats (train {last['train_ll']:.2f}; "
            f"independent-pixel model {ll_base:.2f}); "
            f"log Z = {last['log_Z']:.3f} ± {last['log_Z_error']:.3f} ({method}). "
            f"Mean epoch time {np.mean(rbm.history_['epoch_time']):.3f} s on {threads} thread(s)."]
    report = write_report(run.path, f"RBM trained on {dataset}",
                          [Section("Likelihood", text=text, tables=[("evaluations", curve)],
                                   figures=[(f_curve, "average log-likelihood per epoch")]),
                           Section("Samples and filters",
                                   figures=[(f_samp, f"visible probabilities after {N_GIBBS} Gibbs steps (chains "
                                                     "started at held-out images)"),
                                            (f_filt, "weights of hidden units")])],
                          run.manifest)
    lz_text = f"{last['log_Z']:.3f}" + (f" ± {last['log_Z_error']:.2g}" if method == "AIS" else "")
    console.print(f"held-out log-likelihood {last['test_ll']:.2f} nats (train {last['train_ll']:.2f}, independent "
                  f"pixels {ll_base:.2f}); log Z = {lz_text} ({method})", soft_wrap=True, highlight=False)
    console.print(f"report: {report}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Restricted Boltzmann machines.", no_args_is_help=True)
    sub.command("train")(train)
    app.add_typer(sub, name="rbm")
