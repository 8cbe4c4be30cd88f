"""Running ``spinlens`` in-process as a user would (``main(argv)``), for the CLI tests of several areas."""
from __future__ import annotations

from typing import Any

import pytest

from spinlens.cli.main import main


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``spinlens ARGV`` through :func:`spinlens.cli.main.main`: (exit code, stdout + stderr)."""
    code: Any = 0
    try:
        main(argv)
    except SystemExit as ex:
        code = ex.code
    cap = capsys.readouterr()
    return int(code or 0), cap.out + cap.err
