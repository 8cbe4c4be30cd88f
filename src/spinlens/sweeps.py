"""One sweep runner for every embarrassingly parallel loop (checkpoints × temperatures × seeds × sizes).

A sweep is a list of *units*. Each unit is a pure function call ``fn(config, key, params, seed)`` whose
seed is derived from the sweep's base seed and the unit's key alone, so a unit gives the same numbers
wherever it runs: serially, in a local process pool, or on a Dask cluster.

Every finished unit is written atomically to ``RUN_DIR/units/<key>.json`` together with a SHA-256
checksum of its payload and a digest of the sweep's configuration, base seed and the unit's parameters.
Re-running the same sweep skips units whose file is present and intact, reruns units made with another
configuration, seed or parameters, reruns units whose file is corrupt (and says so in the log and in
:attr:`SweepResult.rerun_corrupt`), and a Ctrl-C keeps every finished unit. A unit that raises is reported
with its key; the others still finish.

Unit outputs must be JSON-able values, numpy arrays, or nested dicts/lists of them; arrays round-trip
bit for bit (stored as base64 of their raw bytes).
"""
from __future__ import annotations

import base64
import concurrent.futures as cf
import hashlib
import json
import logging
import multiprocessing as mp
import os
import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spinlens._progress import ProgressCallback, notify
from spinlens.results import atomic_write_text, to_jsonable

__all__ = ["Unit", "SweepResult", "SweepError", "run_sweep", "run_sweep_with", "unit_seed",
           "load_unit", "encode", "decode"]

log = logging.getLogger(__name__)

UnitFn = Callable[[Any, str, Mapping[str, Any], int], Any]


@dataclass(frozen=True)
class Unit:
    """One unit of work: a unique ``key`` (used as its file name) and its parameters."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class SweepResult:
    """Outputs by unit key, plus what happened: which units ran now, were reused, or failed."""

    outputs: dict[str, Any]
    ran: list[str]
    reused: list[str]
    rerun_corrupt: list[str]
    failures: dict[str, str]

    def __getitem__(self, key: str) -> Any:
        return self.outputs[key]

    @property
    def ok(self) -> bool:
        return not self.failures


class SweepError(RuntimeError):
    """Some units failed; finished units are on disk. ``failures`` maps unit key → error text."""

    def __init__(self, failures: Mapping[str, str]) -> None:
        self.failures = dict(failures)
        lines = "; ".join(f"{k}: {v.strip().splitlines()[-1] if v.strip() else v}" for k, v in failures.items())
        super().__init__(f"{len(failures)} unit(s) failed (finished units were kept): {lines}")


def unit_seed(base_seed: int, key: str) -> int:
    """Seed of a unit: a function of the base seed and the unit key only (never of run order)."""
    ss = np.random.SeedSequence([int(base_seed) & 0xFFFFFFFFFFFFFFFF, zlib.crc32(key.encode("utf-8"))])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


# ----------------------------------------------------------------------------- serialisation
def encode(obj: Any) -> Any:
    """JSON-able form of a unit output; arrays as base64 of their bytes (exact round trip)."""
    if isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
        return {
            "__ndarray__": base64.b64encode(arr.tobytes()).decode("ascii"),
            "dtype": arr.dtype.str,
            "shape": list(arr.shape),
        }
    if isinstance(obj, Mapping):
        return {str(k): encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [encode(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return {"__float__": repr(obj)}
    if isinstance(obj, np.floating):
        return encode(float(obj))
    return to_jsonable(obj)


def decode(obj: Any) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            raw = base64.b64decode(obj["__ndarray__"])
            return np.frombuffer(raw, dtype=np.dtype(obj["dtype"])).reshape(obj["shape"]).copy()
        if "__float__" in obj:
            return float(obj["__float__"])
        return {k: decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    return obj


def _checksum(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


_SAFE = re.compile(r"[^A-Za-z0-9._=-]+")


def _unit_path(units_dir: Path, key: str) -> Path:
    safe = _SAFE.sub("_", key)
    if safe != key:  # keep distinct keys distinct
        safe = f"{safe}-{zlib.crc32(key.encode()):08x}"
    return units_dir / f"{safe}.json"


def _canonical(obj: Any) -> str:
    try:
        return json.dumps(encode(obj), sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):  # not JSON-able: its repr is the best stable description there is
        return repr(obj)


def _digest(config_text: str, seed: int, params: Any) -> str:
    """Digest of what a unit depends on besides its key: the sweep's identity (canonical text), base seed, params."""
    return hashlib.sha256(f"{int(seed)}|{config_text}|{_canonical(params)}".encode()).hexdigest()[:16]


def load_unit(run_dir: str | os.PathLike[str], key: str) -> Any:
    """The stored output of unit ``key`` in ``run_dir`` (checksum verified), or ``None`` if missing or corrupt."""
    status, out = _read_unit(_unit_path(Path(run_dir) / "units", key), key, None)
    return out if status == "ok" else None


def _write_unit(path: Path, key: str, seed: int, digest: str, payload: Any) -> None:
    """Store the encoded output ``payload`` of a unit with its checksum and digest."""
    doc = {"key": key, "seed": seed, "config": digest, "checksum": _checksum(payload), "output": payload}
    atomic_write_text(path, json.dumps(doc, sort_keys=True))


def _read_unit(path: Path, key: str, digest: str | None) -> tuple[str, Any]:
    """(status, output): status ``"ok"``, ``"missing"``, ``"stale"`` (another digest; not checked when ``digest``
    is None) or ``"corrupt"``."""
    if not path.exists():
        return "missing", None
    try:
        doc = json.loads(path.read_text())
        if not isinstance(doc, dict) or doc.get("key") != key or _checksum(doc["output"]) != doc["checksum"]:
            return "corrupt", None
        if digest is not None and doc.get("config") != digest:
            return "stale", None
        return "ok", decode(doc["output"])
    except (ValueError, KeyError, TypeError, OSError):
        return "corrupt", None


def _call(fn: UnitFn, config: Any, key: str, params: Mapping[str, Any], seed: int) -> Any:
    return fn(config, key, params, seed)


# ----------------------------------------------------------------------------- the runner
def run_sweep(
    fn: UnitFn,
    units: Iterable[Unit | tuple[str, Mapping[str, Any]] | str],
    run_dir: str | os.PathLike[str] | None,
    *,
    config: Any = None,
    seed: int = 0,
    executor: str = "local",
    n_workers: int | None = None,
    scheduler: str | None = None,
    progress: ProgressCallback | None = None,
    raise_on_failure: bool = True,
    identity: Any = None,
) -> SweepResult:
    """Run ``fn(config, key, params, seed)`` for every unit, resuming finished units from ``run_dir``.

    Parameters
    ----------
    fn : a module-level (picklable) pure function.
    units : :class:`Unit` objects, ``(key, params)`` pairs or bare keys; keys must be unique.
    run_dir : the run directory; unit files go to ``run_dir/units``. ``None`` keeps outputs in memory only
        (nothing written, nothing resumed): what library calls use when no run directory is involved.
    config : passed unchanged to every unit (must be picklable).
    seed : base seed; unit seeds are :func:`unit_seed` (seed, key).
    executor : ``"serial"``, ``"local"`` (process pool, default) or ``"dask"``.
    n_workers : pool size (default: CPU count).
    scheduler : a Dask scheduler address ``tcp://HOST:PORT``; implies ``executor="dask"``.
    raise_on_failure : raise :class:`SweepError` after all units ran if any failed.
    identity : what the outputs depend on, when that is less than ``config`` (default: ``config``): a stored
        unit is reused only if it was made with the same ``identity``, base seed and unit params. Leave out of
        it what cannot change a result (thread counts, where input files lie).
    """
    norm = [_as_unit(u) for u in units]
    keys = [u.key for u in norm]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"unit keys must be unique; repeated: {dup[:5]}")
    if scheduler:
        executor = "dask"
    if executor not in ("serial", "local", "dask"):
        raise ValueError(f"executor must be 'serial', 'local' or 'dask', got {executor!r}.")
    units_dir = None if run_dir is None else Path(run_dir) / "units"
    outputs: dict[str, Any] = {}
    reused: list[str] = []
    corrupt: list[str] = []
    digests: dict[str, str] = {}
    if units_dir is None:  # in memory: nothing to resume
        todo = list(norm)
    else:
        config_text = _canonical(config if identity is None else identity)
        digests = {u.key: _digest(config_text, seed, u.params) for u in norm}
        units_dir.mkdir(parents=True, exist_ok=True)
        todo = []
        for u in norm:
            path = _unit_path(units_dir, u.key)
            status, out = _read_unit(path, u.key, digests[u.key])
            if status == "ok":
                outputs[u.key] = out
                reused.append(u.key)
                continue
            if status == "corrupt":
                corrupt.append(u.key)
                log.warning("unit %r: file %s is corrupt (checksum mismatch); running it again", u.key, path.name)
            elif status == "stale":
                log.info("unit %r: file %s was made with another configuration or seed; running it again",
                         u.key, path.name)
            todo.append(u)
    total = len(norm)
    done = len(reused)
    notify(progress, done, total)
    failures: dict[str, str] = {}
    ran: list[str] = []

    def finish(u: Unit, seed_u: int, out: Any) -> None:
        nonlocal done
        payload = encode(out)
        if units_dir is not None:
            _write_unit(_unit_path(units_dir, u.key), u.key, seed_u, digests[u.key], payload)
        outputs[u.key] = decode(payload)  # same form as a resumed unit
        ran.append(u.key)
        done += 1
        notify(progress, done, total)

    seeds = {u.key: unit_seed(seed, u.key) for u in todo}
    if executor == "serial" or (executor == "local" and (n_workers == 1 or len(todo) <= 1)):
        for u in todo:
            try:
                out = _call(fn, config, u.key, u.params, seeds[u.key])
            except Exception as exc:  # noqa: BLE001 - reported with its key
                failures[u.key] = f"{type(exc).__name__}: {exc}"
                log.error("unit %r failed: %s", u.key, exc)
                continue
            finish(u, seeds[u.key], out)
    elif executor == "local":
        ctx = mp.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=n_workers or os.cpu_count() or 1, mp_context=ctx) as pool:
            futs = {pool.submit(_call, fn, config, u.key, u.params, seeds[u.key]): u for u in todo}
            try:
                for fut in cf.as_completed(futs):
                    u = futs[fut]
                    try:
                        out = fut.result()
                    except Exception as exc:  # noqa: BLE001
                        failures[u.key] = f"{type(exc).__name__}: {exc}"
                        log.error("unit %r failed: %s", u.key, exc)
                        continue
                    finish(u, seeds[u.key], out)
            except KeyboardInterrupt:
                for f in futs:
                    f.cancel()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    else:
        _run_dask(fn, config, todo, seeds, scheduler, n_workers, finish, failures)

    result = SweepResult(outputs, ran, reused, corrupt, failures)
    if failures and raise_on_failure:
        raise SweepError(failures)
    return result


def run_sweep_with(
    options: Mapping[str, Any] | None,
    fn: UnitFn,
    units: Iterable[Unit | tuple[str, Mapping[str, Any]] | str],
    *,
    config: Any = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> SweepResult:
    """:func:`run_sweep` with runner options from a mapping, as library functions take them (``sweep=``).

    ``options`` may hold ``run_dir``, ``executor``, ``n_workers``, ``scheduler`` and ``identity``; without them the
    sweep runs serially in memory (nothing written), so a library call behaves like a plain loop unless asked
    otherwise. ``n_workers > 1`` without an ``executor`` means the local process pool.
    """
    given = dict(options or {})
    default = "local" if (given.get("n_workers") or 1) > 1 else "serial"
    opts = {"run_dir": None, "executor": default, **given}
    unknown = set(opts) - {"run_dir", "executor", "n_workers", "scheduler", "identity"}
    if unknown:
        raise ValueError(f"unknown sweep options {sorted(unknown)}; use run_dir, executor, n_workers, scheduler, "
                         "identity.")
    run_dir = opts.pop("run_dir")
    return run_sweep(fn, units, run_dir, config=config, seed=seed, progress=progress, **opts)


def _run_dask(
    fn: UnitFn,
    config: Any,
    todo: Sequence[Unit],
    seeds: Mapping[str, int],
    scheduler: str | None,
    n_workers: int | None,
    finish: Callable[[Unit, int, Any], None],
    failures: dict[str, str],
) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("the Dask executor needs dask.distributed: pip install 'dask[distributed]'") from None
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=n_workers or 2, threads_per_worker=1, processes=True)
        client = Client(cluster)
    try:
        futs = {client.submit(_call, fn, config, u.key, u.params, seeds[u.key], key=f"unit-{u.key}", pure=False): u
                for u in todo}
        for fut in as_completed(list(futs)):
            u = futs[fut]
            try:
                out = fut.result()
            except Exception as exc:  # noqa: BLE001
                failures[u.key] = f"{type(exc).__name__}: {exc}"
                log.error("unit %r failed: %s", u.key, exc)
                continue
            finish(u, seeds[u.key], out)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _as_unit(u: Unit | tuple[str, Mapping[str, Any]] | str) -> Unit:
    if isinstance(u, Unit):
        return u
    if isinstance(u, str):
        return Unit(u, {})
    key, params = u
    return Unit(str(key), dict(params))
