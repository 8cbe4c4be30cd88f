"""Run registered benchmarks: ``python -m benchmarks.run [-k SUBSTRING] [--quick]``.

Imports every ``benchmarks/bench_*.py``, runs the selected benchmarks, prints one line per
benchmark with its speed ratio (peer time / spinlens time) and writes JSON to benchmarks/results/.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import pkgutil
import sys
import traceback
from pathlib import Path

from benchmarks._harness import REGISTRY

HERE = Path(__file__).parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-k", default="", help="run only benchmarks whose name contains this")
    ap.add_argument("--quick", action="store_true", help="smaller inputs (smoke test of the harness)")
    ap.add_argument("--list", action="store_true", help="list benchmarks and exit")
    args = ap.parse_args(argv)
    for mod in pkgutil.iter_modules([str(HERE)]):
        if mod.name.startswith("bench_"):
            importlib.import_module(f"benchmarks.{mod.name}")
    names = sorted(n for n in REGISTRY if args.k in n)
    if args.list:
        print("\n".join(names))
        return 0
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    failed = 0
    for name in names:
        fn = REGISTRY[name]
        kwargs = {"quick": True} if args.quick and "quick" in inspect.signature(fn).parameters else {}
        print(f"== {name}", flush=True)
        try:
            res = fn(**kwargs)
        except Exception:  # a failing benchmark must not hide the others
            traceback.print_exc()
            failed += 1
            continue
        if "spinlens_s" in res and "peer_s" in res and res["spinlens_s"] > 0:
            res["ratio"] = res["peer_s"] / res["spinlens_s"]
        res["name"] = name
        (out_dir / f"{name.replace('/', '__')}.json").write_text(json.dumps(res, indent=2, default=float))
        shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in res.items() if k != "name"}
        print(f"   {shown}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
