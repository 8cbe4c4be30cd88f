"""The ``spinlens`` command: one typer app, one module per subcommand, thin over the API."""
from __future__ import annotations

import importlib
import os

import typer
from rich.markup import escape

try:  # typer >= 0.20 carries its own copy of click
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer on the real click
    from click.exceptions import NoArgsIsHelpError, UsageError  # type: ignore[no-redef,attr-defined,assignment]

from spinlens._version import __version__
from spinlens.cli._common import UserError, console, expand_config

app = typer.Typer(
    name="spinlens",
    help="Neural networks through statistical mechanics. Every command writes a run directory "
    "(manifest.json, results, figures, report.html).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module defines ``register(app)``; the order is the order in --help.
_SUBCOMMANDS = [
    "spinlens.cli.demo",
    "spinlens.cli.phases",
    "spinlens.cli.exact",
    "spinlens.cli.ising",
    "spinlens.cli.sk",
    "spinlens.cli.tap",
    "spinlens.cli.maxent",
    "spinlens.cli.hopfield",
    "spinlens.cli.perceptron",
    "spinlens.cli.rbm",
    "spinlens.cli.landscape",
    "spinlens.cli.criticality",
    "spinlens.cli.tools",
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"spinlens {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    if debug:
        os.environ["SPINLENS_DEBUG"] = "1"


for _mod in _SUBCOMMANDS:
    importlib.import_module(_mod).register(app)


def _error_line(message: str, hint: str) -> None:
    console.print(f"[bold red]error:[/bold red] {escape(message)}", soft_wrap=True, highlight=False)
    console.print(f"[dim]hint: {escape(hint)}[/dim]")


def main(argv: list[str] | None = None) -> None:
    """Entry point: library errors become one clear line (``--debug`` for the traceback).

    Exit codes: 0 success, 1 an analysis failed (e.g. some sweep units or checkpoints) or an unexpected error,
    2 bad input or usage, 130 interrupted (finished work is kept). ``--debug`` (anywhere on the command line)
    shows the full traceback instead of the one-line message.
    """
    import sys

    from spinlens.sweeps import SweepError

    try:
        args = expand_config(list(sys.argv[1:] if argv is None else argv))
        if "--debug" in args:  # anywhere on the line, before or after the sub-command
            os.environ["SPINLENS_DEBUG"] = "1"
            args = [a for a in args if a != "--debug"]
        sys.argv = [sys.argv[0], *args]
        code = app(args, prog_name="spinlens", standalone_mode=False)  # click's usage errors reach us (below)
        raise SystemExit(code if isinstance(code, int) else 0)  # as click's standalone mode ends
    except NoArgsIsHelpError as exc:  # `spinlens` or `spinlens GROUP` alone: the help, as in standalone mode
        if exc.ctx is not None:
            typer.echo(exc.ctx.get_help())
        raise SystemExit(0) from None
    except UsageError as exc:  # an option typer could not parse: one line, not click's box
        if os.environ.get("SPINLENS_DEBUG"):
            raise
        where = f"spinlens {exc.ctx.command_path.split(' ', 1)[1]} --help" if exc.ctx and " " in exc.ctx.command_path \
            else "spinlens --help"
        _error_line(exc.format_message(), f"{where} lists the options.")
        raise SystemExit(2) from None
    except typer.Abort as exc:
        if isinstance(exc.__cause__, EOFError):  # click turns an EOFError (e.g. np.load of an empty file) into Abort
            if os.environ.get("SPINLENS_DEBUG"):
                raise
            _error_line("unexpected end of file: an input file is empty or truncated.",
                        "check the files given on the command line; --debug shows where it was read.")
            raise SystemExit(2) from None
        console.print("[yellow]interrupted: finished work was kept in the run directory.[/yellow]")
        raise SystemExit(130) from None
    except SweepError as exc:
        if os.environ.get("SPINLENS_DEBUG"):
            raise
        _error_line(str(exc), "fix the failing units and run the same command again: finished units are reused.")
        raise SystemExit(1) from None
    except (UserError, ValueError, OSError, TypeError, ImportError, RuntimeError) as exc:
        if os.environ.get("SPINLENS_DEBUG"):
            raise
        _error_line(str(exc), "run with --debug for the full traceback; --help lists the options.")
        raise SystemExit(2) from None
    except Exception as exc:  # not bad input: a bug; still one line, the traceback behind --debug
        if os.environ.get("SPINLENS_DEBUG"):
            raise
        _error_line(f"unexpected {type(exc).__name__}: {exc}",
                    "this is a bug in spinlens: run the same command with --debug and report the traceback.")
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: finished work was kept in the run directory.[/yellow]")
        raise SystemExit(130) from None


if __name__ == "__main__":  # pragma: no cover
    main()
