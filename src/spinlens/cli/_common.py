"""Shared helpers for the thin CLI layer: run directories, progress bars, errors, console."""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

__all__ = ["console", "progress_bar", "open_run", "UserError", "command_line"]

console = Console(stderr=True)


class UserError(Exception):
    """An error caused by user input; the CLI prints it as one line with a hint."""


def command_line() -> str:
    return " ".join(["spinlens", *sys.argv[1:]])


def open_run(out: Path | str, config: Any = None, seeds: Any = None) -> RunDir:
    """Create the run directory with its manifest and say where it is."""
    run = RunDir(out, command=command_line(), config=config, seeds=seeds)
    console.print(f"[bold]run directory:[/bold] {run.path}")
    return run


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
