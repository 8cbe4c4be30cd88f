"""Progress reporting convention: the library never prints.

Long-running functions take ``progress: ProgressCallback | None``; they call
``progress(done, total)`` as work completes (``total`` may change between calls).
The CLI turns this into a rich progress bar (:func:`spinlens.cli._common.progress_bar`).
"""
from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[int, int], None]

__all__ = ["ProgressCallback", "notify"]


def notify(progress: ProgressCallback | None, done: int, total: int) -> None:
    """Call ``progress(done, total)`` when a callback was given."""
    if progress is not None:
        progress(int(done), int(total))
