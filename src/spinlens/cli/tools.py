"""``spinlens report``, ``spinlens rerun`` and ``spinlens doctor``."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import typer

from spinlens.cli._common import UserError, console


def report(run_dir: Path = typer.Argument(..., help="A run directory written by any spinlens command.")) -> None:
    """Re-render RUN_DIR/report.html from the run's saved results and figures."""
    from spinlens.report import rerender

    path = rerender(run_dir)
    console.print(f"report: {path}")


def rerun(
    run_dir: Path = typer.Argument(..., help="The run directory to reproduce."),
    out: Path = typer.Option(None, "--out", help="Write to this directory instead (default: resume RUN_DIR)."),
) -> None:
    """Run again the command recorded in RUN_DIR/manifest.json (same configuration and seeds)."""
    manifest = run_dir / "manifest.json"
    if not manifest.exists():
        raise UserError(f"{run_dir} has no manifest.json: is it a spinlens run directory?")
    argv = json.loads(manifest.read_text()).get("argv")
    if not argv:
        raise UserError(f"{manifest} records no command line to rerun.")
    argv = [a for a in argv]
    target = str(out if out is not None else run_dir)
    if "--out" in argv:
        argv[argv.index("--out") + 1] = target
    else:
        argv += ["--out", target]
    console.print("rerun: spinlens " + " ".join(argv))
    from spinlens.cli.main import main

    main(argv)


def doctor() -> None:
    """Versions, threads, whether the bundled data load, and where caches live."""
    from spinlens.results import package_versions

    rows = dict(package_versions())
    try:
        import numba

        rows["numba threads"] = str(numba.get_num_threads())
        rows["numba cache"] = os.environ.get("NUMBA_CACHE_DIR", "__pycache__ beside the spinlens modules")
    except ImportError:
        rows["numba"] = "MISSING: pip install numba"
    try:
        import torch

        rows["torch threads"] = str(torch.get_num_threads())
        rows["torch CUDA"] = "yes: " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no (CPU)"
    except ImportError:
        rows["torch"] = "MISSING: pip install torch==2.13.0"
    for name, loader in (("digits", "load_digits"), ("mnist5000", "load_mnist5000")):
        t0 = time.perf_counter()
        try:
            import spinlens.data as d

            ds = getattr(d, loader)()
            rows[f"data {name}"] = f"ok {ds.X.shape} in {time.perf_counter() - t0:.2f}s"
        except Exception as exc:  # noqa: BLE001 - doctor reports every failure
            rows[f"data {name}"] = f"FAILED: {exc}"
    rows["python executable"] = sys.executable
    width = max(len(k) for k in rows)
    for k, v in rows.items():
        typer.echo(f"{k.ljust(width)}  {v}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("rerun")(rerun)
    app.command("doctor")(doctor)
