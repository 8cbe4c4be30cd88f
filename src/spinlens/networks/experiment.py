r"""The phases-over-training pipeline: train (or load) checkpoints, analyse each, fit :math:`T_c(t)`, report.

For every checkpoint the network is mapped to spins (:func:`to_spins`), its stability curve and phase are
computed (:func:`spinlens.networks.phases.analyze`), TAP evidence is gathered on a few checkpoints, and the
bond-matrix spectrum is summarised (:func:`spinlens.networks.spectrum.spectrum`). Each checkpoint's record is
one unit of the sweep runner (:mod:`spinlens.sweeps`), written atomically to ``analysis/units/step_XXXXXXXX.json``;
a re-run reuses finished units, and the units can run on a local process pool or a Dask cluster.

The melting temperature is fitted as a power law :math:`T_c(t) = a\,t^{\gamma}` by least squares on
:math:`\log T_c` vs :math:`\log t` over the trailing hidden-order checkpoints without the onset one (the fit
range is reported), with a
95% confidence interval for :math:`\gamma` from the t distribution (Barney, Winer & Galitski, arXiv:2408.06421).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spinlens._progress import ProgressCallback
from spinlens._rng import spawn
from spinlens.results import Result, to_jsonable
from spinlens.sweeps import Unit, load_unit, run_sweep_with

__all__ = [
    "ExperimentConfig",
    "ExperimentResult",
    "PowerLawFit",
    "fit_power_law",
    "list_checkpoints",
    "train_checkpoints",
    "analyze_checkpoints",
    "summarize",
    "run_experiment",
    "experiment_figures",
    "experiment_sections",
    "load_builder",
]

log = logging.getLogger(__name__)


@dataclass
class ExperimentConfig:
    """Everything that defines a phases-over-training run (defaults: the ``spinlens phases`` demo)."""

    widths: tuple[int, ...] = (784, 256, 256, 10)
    activation: str = "relu"
    bias: bool = True
    dataset: str = "mnist5000"
    n_samples: int | None = None
    steps: int = 2000
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    batch_size: int = 128
    n_checkpoints: int = 20
    lazy_scale: float | None = None
    seed: int = 0
    # analysis
    n_grid: int = 16
    n_starts: int = 8
    tap_max_iter: int = 1000
    n_tap_checkpoints: int = 5
    threads: int | None = 1
    # the user's own run
    checkpoint_dir: str | None = None
    model_builder: str | None = None


# ---------------------------------------------------------------------------------------------- fit
@dataclass(frozen=True)
class PowerLawFit(Result):
    r""":math:`T_c = a\,t^{\gamma}` fitted on ``[t_start, t_end]`` (``n_points`` checkpoints).

    ``exponent_ci`` is the 95% interval from the t distribution with ``n_points - 2`` degrees of freedom.
    """

    exponent: float
    exponent_stderr: float
    exponent_ci: tuple
    prefactor: float
    t_start: float
    t_end: float
    n_points: int
    r2: float

    def predict(self, t: Any) -> np.ndarray:
        return self.prefactor * np.asarray(t, dtype=np.float64) ** self.exponent


def fit_power_law(t: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
                  t_range: tuple[float, float] | None = None) -> PowerLawFit:
    r"""Least-squares fit of :math:`\log y = \log a + \gamma \log t` over ``t_range`` (default: all t > 0).

    Raises ``ValueError`` with fewer than 3 usable points (positive, finite).
    """
    from scipy import stats

    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = (t > 0) & (y > 0) & np.isfinite(t) & np.isfinite(y)
    if t_range is not None:
        ok &= (t >= t_range[0]) & (t <= t_range[1])
    if ok.sum() < 3:
        raise ValueError(f"a power-law fit needs at least 3 positive points in the range, got {int(ok.sum())}.")
    x, z = np.log(t[ok]), np.log(y[ok])
    n = len(x)
    A = np.vstack([np.ones(n), x]).T
    coef, *_ = np.linalg.lstsq(A, z, rcond=None)
    resid = z - A @ coef
    dof = n - 2
    s2 = float(resid @ resid / dof) if dof > 0 else 0.0
    cov = s2 * np.linalg.inv(A.T @ A)
    se = float(np.sqrt(cov[1, 1]))
    q = float(stats.t.ppf(0.975, dof)) if dof > 0 else float("inf")
    ss_tot = float(np.sum((z - z.mean()) ** 2))
    return PowerLawFit(
        exponent=float(coef[1]),
        exponent_stderr=se,
        exponent_ci=(float(coef[1] - q * se), float(coef[1] + q * se)),
        prefactor=float(np.exp(coef[0])),
        t_start=float(t[ok].min()),
        t_end=float(t[ok].max()),
        n_points=n,
        r2=1.0 - float(resid @ resid) / ss_tot if ss_tot > 0 else 1.0,
    )


# ---------------------------------------------------------------------------------------------- checkpoints
_CKPT_EXT = (".pt", ".pth", ".safetensors")


def list_checkpoints(directory: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """``(step, path)`` of the checkpoints in a folder, sorted by step.

    Uses ``checkpoints.json`` (written by :func:`spinlens.networks.train`) when present, else the last integer
    in each file name (``.pt``, ``.pth``, ``.safetensors``; optimizer-state files ``optim_*`` are skipped).
    """
    from spinlens.networks.train import read_checkpoint_index

    d = Path(directory)
    if not d.is_dir():
        raise FileNotFoundError(f"checkpoint folder {d} does not exist.")
    index = read_checkpoint_index(d)
    if index is not None and index.get("checkpoints"):
        out = [(int(r["step"]), d / r["file"]) for r in index["checkpoints"] if (d / r["file"]).is_file()]
        return sorted(out)
    files = sorted(p for p in d.iterdir() if p.suffix in _CKPT_EXT and not p.name.startswith("optim_"))
    if not files:
        raise ValueError(f"{d} holds no checkpoint files ({', '.join(_CKPT_EXT)}).")
    out = []
    for k, p in enumerate(files):
        nums = re.findall(r"\d+", p.stem)
        out.append((int(nums[-1]) if nums else k, p))
    steps = [s for s, _ in out]
    if len(set(steps)) != len(steps):
        raise ValueError(f"cannot tell the training steps of the files in {d} apart; name them like step_000100.pt.")
    return sorted(out)


def load_builder(spec: str) -> Any:
    """``"package.module:function"`` → the callable (the user's own code: it is imported and run)."""
    if ":" not in spec:
        raise ValueError(f"--model must look like 'module:builder', got {spec!r}.")
    mod_name, fn_name = spec.split(":", 1)
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {mod_name!r} for --model: {exc}") from None
    fn = getattr(mod, fn_name, None)
    if not callable(fn):
        raise ValueError(f"module {mod_name!r} has no callable {fn_name!r}.")
    return fn


def _load_network(path: Path, builder: Any) -> Any:
    from spinlens.networks.to_spins import load_checkpoint

    sd = load_checkpoint(path)
    if builder is None:
        return sd
    net = builder()
    try:
        net.load_state_dict(sd)
    except (RuntimeError, KeyError) as exc:
        raise ValueError(f"checkpoint {path.name} does not fit the network from --model: {str(exc)[:300]}") from None
    return net


def _make_data(cfg: ExperimentConfig) -> Any:
    from spinlens.data import load_dataset

    return load_dataset(cfg.dataset, n_samples=cfg.n_samples)


def train_checkpoints(cfg: ExperimentConfig, directory: str | os.PathLike[str],
                      progress: ProgressCallback | None = None) -> list[tuple[int, Path]]:
    """Train the configured MLP and save its checkpoints in ``directory`` (resumes finished ones)."""
    from spinlens.networks.train import mlp, train

    data = _make_data(cfg)
    if data.X.shape[1] != cfg.widths[0]:
        raise ValueError(f"the data have {data.X.shape[1]} features but widths[0] = {cfg.widths[0]}.")
    if data.n_classes > cfg.widths[-1]:
        raise ValueError(f"the data have {data.n_classes} classes but widths[-1] = {cfg.widths[-1]}.")
    s_init, s_train = spawn(cfg.seed, 2)
    net = mlp(cfg.widths, cfg.activation, cfg.bias, rng=s_init)
    train(net, data, cfg.steps, optimizer=cfg.optimizer, lr=cfg.lr, momentum=cfg.momentum,
          batch_size=cfg.batch_size, checkpoints=cfg.n_checkpoints, out_dir=directory, lazy_scale=cfg.lazy_scale,
          rng=s_train, progress=progress, num_threads=cfg.threads)
    return list_checkpoints(directory)


# ---------------------------------------------------------------------------------------------- per checkpoint
def _tap_indices(n: int, k: int) -> set[int]:
    if k <= 0 or n == 0:
        return set()
    return {int(round(x)) for x in np.linspace(0, n - 1, min(k, n))}


def _analyze_one(step: int, path: Path, builder: Any, init_weights: list[np.ndarray], cfg: ExperimentConfig,
                 with_tap: bool, rng: Any, data: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from spinlens.networks.phases import analyze, class_alignment
    from spinlens.networks.spectrum import spectrum
    from spinlens.networks.to_spins import to_spins

    mapped = to_spins(_load_network(path, builder))
    res = analyze(mapped, n_grid=cfg.n_grid, n_starts=cfg.n_starts if with_tap else 0,
                  tap_max_iter=cfg.tap_max_iter, rng=rng)
    spec = spectrum(list(mapped.weights), init_weights)
    rec: dict[str, Any] = {
        "step": step,
        "file": path.name,
        "t_c": res.t_c,
        "phase": res.phase,
        "criterion": res.criterion,
        "t_star": res.t_star,
        "f_min_rel": res.f_min_rel,
        "tolerance": res.tolerance,
        "lambda_max": res.lambda_max,
        "widths": list(mapped.widths),
        "outliers": spec.outliers.tolist(),
        "top_ratio": spec.top_ratio.tolist(),
        "rel_change": spec.rel_change.tolist(),
        "edges": spec.edges.tolist(),
        "notes": list(res.notes),
        "evidence_agrees": res.evidence_agrees,
        "tap": None,
    }
    arrays = {
        "temperatures": res.temperatures,
        "stability": res.stability,
        "top_eigenvalues": spec.top_eigenvalues,
        **{f"sv_{l}": sv for l, sv in enumerate(spec.singular_values)},
    }
    if res.tap:
        ev = res.tap[0]
        rec["tap"] = {
            "temperature": ev.temperature,
            "n_starts": ev.n_starts,
            "n_converged": ev.n_converged,
            "n_nontrivial": ev.n_nontrivial,
            "n_distinct": ev.n_distinct,
            "pm_pairs": ev.pm_pairs,
            "overlap_spread": ev.overlap_spread,
            "q_layers": ev.q_layers.tolist(),
            "m_layers": ev.m_layers.tolist(),
            "alignment": ev.alignment.tolist(),
            "critical_alignment": ev.critical_alignment,
        }
        if data is not None and ev.n_nontrivial and data.X.shape[1] == mapped.widths[0]:
            rec["tap"]["class_alignment"] = class_alignment(ev.m_best[: mapped.widths[0]], data.X, data.y).tolist()
        arrays["m_best"] = ev.m_best
    return rec, arrays


def analysis_unit(config: Mapping[str, Any], key: str, params: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """One checkpoint of :func:`analyze_checkpoints`, a unit of :func:`spinlens.sweeps.run_sweep`.

    ``config`` holds the experiment configuration (``cfg``), the checkpoint folder and the step-0 file (the
    reference for weight motion); ``params`` the step, file name and whether to gather TAP evidence. Returns
    ``{"record": JSON-able summary, "arrays": stability curve, spectra, TAP solution}``.
    """
    fields: dict[str, Any] = dict(config["cfg"])
    cfg = ExperimentConfig(**{**fields, "widths": tuple(fields["widths"])})
    if cfg.threads:
        import torch

        torch.set_num_threads(int(cfg.threads))
    builder = load_builder(cfg.model_builder) if cfg.model_builder else None
    folder = Path(config["checkpoint_dir"])
    init_weights = _reference_weights(str(folder / config["init_file"]), cfg.model_builder)
    with_tap = bool(params["with_tap"])
    data = _make_data(cfg) if with_tap and config["class_alignment"] else None
    rec, arrays = _analyze_one(int(params["step"]), folder / params["file"], builder, init_weights, cfg, with_tap,
                               seed, data)
    return {"record": to_jsonable(rec), "arrays": arrays}


def _reference_weights(path: str, builder_spec: str | None) -> list[np.ndarray]:
    """Step-0 weight matrices (the reference of weight motion), read once per process and file version."""
    st = os.stat(path)
    return _read_reference_weights(path, builder_spec, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=2)
def _read_reference_weights(path: str, builder_spec: str | None, mtime_ns: int, size: int) -> list[np.ndarray]:
    from spinlens.networks.to_spins import extract_weights

    return extract_weights(_load_network(Path(path), load_builder(builder_spec) if builder_spec else None))[0]


def analyze_checkpoints(cfg: ExperimentConfig, checkpoints: Sequence[tuple[int, Path]],
                        out_dir: str | os.PathLike[str], progress: ProgressCallback | None = None,
                        class_alignment: bool = False, sweep: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Analyse every checkpoint, one sweep unit each (:func:`analysis_unit`); returns the records in step order.

    Units are kept in ``out_dir/analysis/units`` and reused when the same analysis runs again (another
    configuration or seed, or a checkpoint file whose contents changed, is analysed afresh).
    ``class_alignment``: also compare the TAP magnetisation of the inputs with the class means of the configured
    dataset. ``sweep``: runner options (``executor``, ``n_workers``, ``scheduler``) of
    :func:`spinlens.sweeps.run_sweep_with`; serial by default.
    """
    if not checkpoints:
        raise ValueError("no checkpoints to analyse.")
    folders = {Path(p).parent.resolve() for _, p in checkpoints}
    if len(folders) != 1:
        raise ValueError(f"checkpoints must share one folder, got {sorted(map(str, folders))}.")
    folder = folders.pop()
    init_file = Path(checkpoints[0][1]).name
    # bad input (a builder that does not exist, layers the mapping does not support) is refused here, before
    # any unit runs
    _reference_weights(str(folder / init_file), cfg.model_builder)
    tap_idx = _tap_indices(len(checkpoints), cfg.n_tap_checkpoints)
    fields = dataclasses.asdict(cfg)
    config = {"cfg": fields, "checkpoint_dir": str(folder), "init_file": init_file,
              "class_alignment": bool(class_alignment)}
    # what a stored analysis depends on: the configuration and the *contents* of its checkpoint and of the
    # step-0 reference (a file overwritten with other weights is analysed again); not the thread count, nor
    # where the run folder lies
    contents = [_file_digest(Path(path)) for _, path in checkpoints]  # contents[0]: the step-0 reference
    identity = {"cfg": {k: v for k, v in fields.items() if k not in ("threads", "checkpoint_dir")},
                "init_file": init_file, "init_content": contents[0], "class_alignment": bool(class_alignment)}
    units = [Unit(_analysis_key(step), {"step": int(step), "file": Path(path).name, "with_tap": k in tap_idx,
                                        "content": contents[k]})
             for k, (step, path) in enumerate(checkpoints)]
    opts = {**(sweep or {}), "run_dir": Path(out_dir) / "analysis", "identity": identity}
    res = run_sweep_with(opts, analysis_unit, units, config=config, seed=cfg.seed + 1, progress=progress)
    return [res[u.key]["record"] for u in units]


def _file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (checkpoints are a few MB: hashing them costs far less than analysing them)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _analysis_key(step: int) -> str:
    return f"step_{int(step):08d}"


def _analysis_of(out_dir: Path, step: int) -> dict[str, Any]:
    out = load_unit(Path(out_dir) / "analysis", _analysis_key(step))
    if out is None:
        raise FileNotFoundError(f"no analysis of step {step} in {out_dir}/analysis: run the analysis first.")
    return out


# ---------------------------------------------------------------------------------------------- summary
@dataclass(frozen=True)
class ExperimentResult(Result):
    r"""Phases over training.

    Attributes
    ----------
    steps : (k,) checkpoint steps; ``t_c``, ``t_star``, ``f_min_rel``, ``lambda_max`` per checkpoint.
    phases : phase per checkpoint.
    outliers, top_ratio, rel_change : (k, L) per layer.
    init_prediction : layered-SK :math:`T_c` from the step-0 widths and weight variances.
    init_measured : measured :math:`T_c` at step 0.
    fit : the power-law fit (None when fewer than 3 hidden-order checkpoints).
    """

    steps: np.ndarray
    t_c: np.ndarray
    t_star: np.ndarray
    f_min_rel: np.ndarray
    lambda_max: np.ndarray
    phases: list
    outliers: np.ndarray
    top_ratio: np.ndarray
    rel_change: np.ndarray
    train_loss: np.ndarray
    train_accuracy: np.ndarray
    init_prediction: float
    init_measured: float
    fit: PowerLawFit | None
    widths: tuple
    notes: list = field(default_factory=list)

    def scalars(self) -> dict[str, Any]:
        d = super().scalars()
        d["fit"] = self.fit.to_dict() if self.fit is not None else None
        return d


def summarize(records: Sequence[dict[str, Any]], checkpoint_dir: str | os.PathLike[str] | None,
              init_network: Any) -> ExperimentResult:
    """Collect the per-checkpoint records, the init prediction and the power-law fit of :math:`T_c(t)`."""
    from spinlens.networks.phases import init_prediction
    from spinlens.networks.train import read_checkpoint_index

    steps = np.array([r["step"] for r in records], dtype=np.int64)
    t_c = np.array([float(r["t_c"]) if r["t_c"] not in (None, "nan") else np.nan for r in records])
    phases = [r["phase"] for r in records]
    notes: list[str] = []
    loss = np.full(len(steps), np.nan)
    acc = np.full(len(steps), np.nan)
    idx = read_checkpoint_index(checkpoint_dir) if checkpoint_dir is not None else None
    if idx:
        by = {int(c["step"]): c for c in idx.get("checkpoints", [])}
        for k, s in enumerate(steps):
            if int(s) in by and by[int(s)].get("train_loss") is not None:
                loss[k] = by[int(s)]["train_loss"]
                acc[k] = by[int(s)]["train_accuracy"]
    # fit range: from the first checkpoint after which every checkpoint is in hidden order
    fit = None
    ho = np.array([p == "hidden order" for p in phases]) & np.isfinite(t_c) & (steps > 0)
    start = len(steps)
    while start > 0 and ho[start - 1]:
        start -= 1
    if len(steps) - start >= 4:  # skip the onset checkpoint (the jump out of the glass), fit the growth
        start += 1
    if len(steps) - start >= 3:
        fit = fit_power_law(steps, t_c, (float(steps[start]), float(steps[-1])))
    else:
        notes.append("fewer than 3 trailing hidden-order checkpoints: no power-law fit of T_c(t).")
    return ExperimentResult(
        steps=steps,
        t_c=t_c,
        t_star=np.array([float(r["t_star"]) for r in records]),
        f_min_rel=np.array([float(r["f_min_rel"]) for r in records]),
        lambda_max=np.array([float(r["lambda_max"]) for r in records]),
        phases=phases,
        outliers=np.array([r["outliers"] for r in records], dtype=np.int64),
        top_ratio=np.array([r["top_ratio"] for r in records], dtype=np.float64),
        rel_change=np.array([[float(x) if x not in (None, "nan") else np.nan for x in r["rel_change"]]
                             for r in records]),
        train_loss=loss,
        train_accuracy=acc,
        init_prediction=init_prediction(init_network),
        init_measured=float(t_c[0]) if steps[0] == 0 else float("nan"),
        fit=fit,
        widths=tuple(records[0]["widths"]),
        notes=notes,
    )


def run_experiment(cfg: ExperimentConfig, out_dir: str | os.PathLike[str],
                   progress: ProgressCallback | None = None) -> ExperimentResult:
    """Train (or take ``cfg.checkpoint_dir``), analyse every checkpoint, summarise (no figures)."""
    out = Path(out_dir)
    if cfg.checkpoint_dir:
        ckdir = Path(cfg.checkpoint_dir)
        cks = list_checkpoints(ckdir)
    else:
        ckdir = out / "checkpoints"
        cks = train_checkpoints(cfg, ckdir)
    records = analyze_checkpoints(cfg, cks, out, progress=progress, class_alignment=not cfg.checkpoint_dir)
    builder = load_builder(cfg.model_builder) if cfg.model_builder else None
    return summarize(records, ckdir, _load_network(cks[0][1], builder))


# ---------------------------------------------------------------------------------------------- figures
_PHASE_STYLE = {"spin glass": ("tab:blue", "o"), "hidden order": ("tab:red", "s"), "paramagnet": ("tab:gray", "^")}


def experiment_figures(result: ExperimentResult, out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Figures (matplotlib ``Figure`` objects, Agg) keyed by file stem."""
    from spinlens.report import new_figure

    out = Path(out_dir)
    figs: dict[str, Any] = {}
    steps = result.steps
    pos = steps > 0
    x0 = max(float(steps[pos].min()) / 2, 0.5) if pos.any() else 1.0
    xs = np.where(pos, steps, x0).astype(float)

    fig, ax = new_figure()
    for ph, (c, mk) in _PHASE_STYLE.items():
        sel = np.array([p == ph for p in result.phases]) & np.isfinite(result.t_c)
        if sel.any():
            ax.plot(xs[sel], result.t_c[sel], mk, color=c, label=ph)
    if result.fit is not None:
        tt = np.geomspace(result.fit.t_start, result.fit.t_end, 50)
        lo, hi = result.fit.exponent_ci
        ax.plot(tt, result.fit.predict(tt), "k-", lw=1,
                label=f"fit: T_c ∝ t^{result.fit.exponent:.2f} [{lo:.2f}, {hi:.2f}]")
        ax.axvspan(result.fit.t_start, result.fit.t_end, color="k", alpha=0.05)
    ax.axhline(result.init_prediction, color="tab:blue", ls=":", lw=1, label="layered-SK prediction (init)")
    ax.set(xscale="log", yscale="log", xlabel="training step (step 0 drawn at the left edge)",
           ylabel="T_c", title="melting temperature over training")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3, which="both")
    figs["tc_vs_step"] = fig

    fig, ax = new_figure()
    picks = sorted({0, len(steps) // 3, 2 * len(steps) // 3, len(steps) - 1})
    stored = {k: _analysis_of(out, int(steps[k])) for k in picks}  # read each unit file once (ends used twice)
    for k in picks:
        arr = stored[k]["arrays"]
        ax.plot(arr["temperatures"], arr["stability"] / arr["temperatures"], "-", label=f"step {steps[k]}")
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xscale="log", xlabel="T", ylabel="f(T) / T", title="stability of the TAP paramagnet")
    ax.set_ylim(-1.0, 1.5)
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    figs["stability_curves"] = fig

    fig, axes = new_figure(1, 2, size=(9.6, 3.6))
    for l in range(result.top_ratio.shape[1]):
        axes[0].plot(xs, result.top_ratio[:, l], "o-", ms=3, label=f"W{l}")
        axes[1].plot(xs, result.rel_change[:, l], "o-", ms=3, label=f"W{l}")
    axes[0].axhline(1.0, color="k", lw=0.8, ls="--")
    axes[0].set(xscale="log", yscale="log", xlabel="training step", ylabel="σ_max / random-matrix edge",
                title="largest singular value vs bulk edge")
    axes[1].set(xscale="log", yscale="log", xlabel="training step", ylabel="‖W(t) − W(0)‖ / ‖W(0)‖",
                title="weight motion")
    for a in axes:
        a.legend(frameon=False, fontsize=8)
        a.grid(alpha=0.3)
    figs["spectra_over_training"] = fig

    fig, axes = new_figure(1, 2, size=(9.6, 3.6))
    final = stored[len(steps) - 1]
    first, last = stored[0]["arrays"], final["arrays"]
    rec_edges = final["record"].get("edges")
    for l in range(result.top_ratio.shape[1]):
        sv0, sv1 = first[f"sv_{l}"], last[f"sv_{l}"]
        col = f"C{l % 10}"  # one colour per layer: solid at step 0, dashed at the last step
        axes[0].plot(np.arange(1, len(sv0) + 1), sv0, "-", lw=1, color=col, label=f"W{l} step 0")
        axes[0].plot(np.arange(1, len(sv1) + 1), sv1, "--", lw=1, color=col, label=f"W{l} step {steps[-1]}")
        if rec_edges:
            axes[0].axhline(rec_edges[l], lw=0.6, ls=":", color=col)
    axes[0].set(xscale="log", yscale="log", xlabel="rank", ylabel="singular value",
                title="singular values (dotted: random-matrix edges)")
    axes[0].legend(frameon=False, fontsize=7)
    axes[1].plot(xs, result.lambda_max, "o-", ms=3)
    axes[1].set(xscale="log", yscale="log", xlabel="training step", ylabel="λ_max(J)", title="top eigenvalue of J")
    for a in axes:
        a.grid(alpha=0.3)
    figs["singular_values"] = fig

    if np.isfinite(result.train_loss).any():
        fig, ax = new_figure()
        ax.plot(xs, result.train_loss, "o-", ms=3, label="train loss")
        ax.plot(xs, result.train_accuracy, "s-", ms=3, label="train accuracy")
        ax.set(xscale="log", xlabel="training step", title="training")
        ax.legend(frameon=False)
        ax.grid(alpha=0.3)
        figs["training"] = fig
    return figs


def experiment_sections(result: ExperimentResult, records: Sequence[dict[str, Any]],
                        figure_paths: dict[str, Path], elapsed_s: float | None = None) -> list[Any]:
    """Report sections for :func:`spinlens.report.write_report`."""
    from spinlens.report import Section

    fit = result.fit
    head = [
        f"Network widths {list(result.widths)}; {len(result.steps)} checkpoints from step {result.steps[0]} "
        f"to {result.steps[-1]}. Every neuron is an Ising spin and every weight a coupling (block (l, l+1) of J "
        "is W_l^T); the phase comes from the stability of the TAP paramagnet, f(T) = λ_min(T I + D/T − J).",
        f"Initialisation: layered-SK prediction T_c = {result.init_prediction:.4g} "
        f"(T_c² = λ_max(M), M_ab = n_b σ_ab²); measured at step 0: T_c = {result.init_measured:.4g} "
        f"({result.phases[0]}).",
    ]
    if fit is not None:
        lo, hi = fit.exponent_ci
        head.append(
            f"Power law T_c(t) = {fit.prefactor:.3g} t^γ with γ = {fit.exponent:.3f} ± {fit.exponent_stderr:.3f} "
            f"(95% CI [{lo:.3f}, {hi:.3f}], R² = {fit.r2:.3f}) over steps {fit.t_start:.0f}–{fit.t_end:.0f} "
            f"({fit.n_points} hidden-order checkpoints)."
        )
    head += list(result.notes)
    if elapsed_s is not None:
        head.append(f"Run time: {elapsed_s:.0f} s.")
    rows = []
    for k, r in enumerate(records):
        tap = r.get("tap") or {}
        rows.append({
            "step": r["step"],
            "train acc": float(result.train_accuracy[k]),
            "phase": r["phase"],
            "T_c": float(r["t_c"]) if r["t_c"] not in (None, "nan") else float("nan"),
            "f_min/T*": float(r["f_min_rel"]),
            "λ_max(J)": float(r["lambda_max"]),
            "outliers/layer": " ".join(str(o) for o in r["outliers"]),
            "‖ΔW‖/‖W0‖": " ".join(f"{x:.3g}" if isinstance(x, float) else str(x) for x in r["rel_change"]),
            "TAP distinct (±)": f"{tap['n_distinct']} ({'yes' if tap['pm_pairs'] else 'no'})" if tap else "",
            "q_l (TAP)": " ".join(f"{x:.2g}" for x in tap.get("q_layers", [])) if tap else "",
            "|m*·v1|": f"{tap['alignment'][0]:.2f}" if tap and tap.get("alignment") else "",
            "best class cos": _best_class(tap.get("class_alignment")) if tap else "",
        })
    secs = [
        Section("Phases over training", text=head,
                figures=[(figure_paths[k], c) for k, c in (
                    ("tc_vs_step", "T_c(t) on log–log axes, coloured by phase, with the power-law fit (shaded range)"),
                    ("stability_curves", "f(T)/T for a few checkpoints: tangency = glass, dip below 0 = hidden order"),
                ) if k in figure_paths]),
        Section("Per checkpoint", text=[
            "TAP evidence (on a few checkpoints): distinct non-trivial TAP solutions from random starts below T_c "
            "(up to the global flip; (±) = a solution and its mirror image were both found), per-layer q_l of the "
            "best solution, its overlap with the top eigenvector v1 of J, and the largest cosine between the "
            "input-layer magnetisation and a centred class-mean image."],
            tables=[("phase, transition and evidence per checkpoint", rows)]),
        Section("Bond-matrix spectrum", text=[
            "Singular values of each weight matrix against the random-matrix bulk edge s(√n + √m) of the initial "
            "weights; singular values above it (BBP outliers) are learned structure. Lazy training keeps "
            "‖W(t) − W(0)‖ small and no outliers appear."],
            figures=[(figure_paths[k], k.replace("_", " ")) for k in
                     ("spectra_over_training", "singular_values", "training") if k in figure_paths]),
    ]
    return secs


def _best_class(a: Any) -> str:
    if not a:
        return ""
    k = int(np.argmax(np.abs(a)))
    return f"{a[k]:+.2f} (class {k})"


def config_dict(cfg: ExperimentConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)
