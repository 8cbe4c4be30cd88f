"""Entry point of the monitor's worker process: ``python -m spinlens.monitor._worker_main`` (see
:mod:`spinlens.monitor._worker`; a module of its own so that running it does not re-import a loaded module)."""
import sys

from spinlens.monitor._worker import main

if __name__ == "__main__":
    sys.exit(main())
