"""Shared helpers for the thin CLI layer: run directories, progress bars, errors, console."""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from spinlens._progress import ProgressCallback
from spinlens.results import RunDir

__all__ = ["console", "progress_bar", "open_run", "UserError", "command_line", "expand_config", "WORKERS",
           "SCHEDULER", "sweep_kwargs"]

console = Console(stderr=True)


class UserError(Exception):
    """An error caused by user input; the CLI prints it as one line with a hint."""


# Options shared by every command that loops over units of work (spinlens.sweeps.run_sweep).
WORKERS = typer.Option(0, "--workers", help="Processes of the local sweep pool (0: one per CPU; 1: serial).")
SCHEDULER = typer.Option(None, "--scheduler", help="Dask scheduler tcp://HOST:PORT: run the sweep on that cluster.")


def sweep_kwargs(workers: int, scheduler: str | None) -> dict[str, Any]:
    """``run_sweep`` keyword arguments for the ``--workers`` / ``--scheduler`` flags."""
    if workers < 0:
        raise UserError(f"--workers must be >= 0 (0 = one per CPU), got {workers}.")
    if scheduler:
        if not scheduler.startswith(("tcp://", "tls://", "ws://", "wss://", "inproc://")):
            raise UserError(f"--scheduler {scheduler!r} is not a Dask address; use tcp://HOST:PORT.")
        return {"executor": "dask", "scheduler": scheduler}
    if workers == 1:
        return {"executor": "serial"}
    return {"executor": "local", "n_workers": workers or None}


def command_line() -> str:
    return " ".join(["spinlens", *sys.argv[1:]])


def open_run(out: Path | str, config: Any = None, seeds: Any = None) -> RunDir:
    """Create the run directory with its manifest (command, argv, resolved config, seeds, versions)."""
    run = RunDir(out, command=command_line(), config=config, seeds=seeds)
    run.manifest["argv"] = list(sys.argv[1:])
    run.write_manifest()
    console.print(f"[bold]run directory:[/bold] {run.path}")
    return run


def expand_config(argv: list[str]) -> list[str]:
    """Replace ``--config FILE.toml`` by the equivalent flags (explicit flags after it still win).

    Keys are option names (``n_sweeps`` or ``n-sweeps``); ``true``/``false`` become ``--flag``/``--no-flag``;
    lists become repeated options.
    """
    if "--config" not in argv:
        return argv
    i = argv.index("--config")
    if i + 1 >= len(argv):
        raise UserError("--config needs a file name, e.g. --config run.toml")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    path = Path(argv[i + 1])
    if not path.exists():
        raise UserError(f"config file {path} does not exist")
    try:
        table = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path} is not valid TOML: {exc}") from None
    flags: list[str] = []
    for key, value in table.items():
        name = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            flags.append(name if value else "--no-" + key.replace("_", "-"))
        elif isinstance(value, list):
            for v in value:
                flags += [name, str(v)]
        elif isinstance(value, dict):
            raise UserError(f"{path}: nested table [{key}] is not a command option")
        else:
            flags += [name, str(value)]
    return argv[:i] + flags + argv[i + 2 :]


@contextlib.contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[ProgressCallback]:
    """A rich progress bar exposed as a ``progress(done, total)`` callback for library calls."""
    disable = not console.is_terminal
    with Progress(
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=disable,
    ) as bar:
        task = bar.add_task(description, total=total)

        def cb(done: int, tot: int) -> None:
            bar.update(task, completed=done, total=tot)

        yield cb
