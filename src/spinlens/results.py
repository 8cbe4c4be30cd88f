"""Frozen result dataclasses, estimates with error bars, atomic saving and run directories.

Every result in spinlens is a frozen dataclass deriving from :class:`Result`: ``to_dict()`` gives a
JSON-ready dict (arrays as lists) and :func:`save_result` writes scalars to ``NAME.json`` and arrays to
``NAME.npz`` atomically (write to a temporary file, then ``os.replace``), so an interrupted run never
leaves a half-written file. A :class:`RunDir` is the folder every CLI command writes: ``manifest.json``
(command, configuration, package versions, seeds), results, arrays, figures and ``report.html``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import io
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "Estimate",
    "Result",
    "RunDir",
    "atomic_write_bytes",
    "atomic_write_text",
    "load_result",
    "package_versions",
    "save_result",
    "to_jsonable",
]

T = TypeVar("T", bound="Result")


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A Monte Carlo (or otherwise uncertain) estimate: ``mean ± error`` with its autocorrelation time.

    ``tau_int`` is the integrated autocorrelation time in units of the sampling interval
    (``0.5`` for independent samples); ``n_eff`` the effective number of independent samples.
    """

    mean: float
    error: float
    tau_int: float = 0.5
    n_eff: float = float("nan")

    def __post_init__(self) -> None:
        for name in ("mean", "error", "tau_int", "n_eff"):
            v = getattr(self, name)
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise TypeError(f"Estimate {name} must be a real number, got {v!r}.")
        if self.error < 0:
            raise ValueError(f"Estimate error must be >= 0 (or NaN when unknown), got {self.error}.")

    def __float__(self) -> float:
        return float(self.mean)

    def __format__(self, spec: str) -> str:
        spec = spec or ".6g"
        return f"{format(self.mean, spec)} ± {format(self.error, '.2g')}"

    def __str__(self) -> str:
        return format(self)

    def within(self, value: float, n_sigma: float = 3.0, allowance: float = 0.0) -> bool:
        """True when ``|mean - value| <= n_sigma * error + allowance``."""
        return abs(self.mean - value) <= n_sigma * self.error + allowance

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in dataclasses.asdict(self).items()}


def to_jsonable(obj: Any) -> Any:
    """Recursively convert dataclasses, numpy scalars/arrays, paths and tuples to JSON types."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return _clean_float(float(obj))
    if isinstance(obj, float):
        return _clean_float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, complex):
        return {"real": obj.real, "imag": obj.imag}
    if isinstance(obj, (set, frozenset)):
        return sorted((to_jsonable(v) for v in obj), key=repr)
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value)
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    raise TypeError(f"obj of type {type(obj).__name__} has no JSON form; convert it to numbers, strings or lists.")


def _clean_float(x: float) -> float | str:
    # JSON has no NaN/inf; keep them readable and round-trippable.
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


class Result:
    """Mixin for frozen result dataclasses: ``to_dict``, ``from_dict``, ``arrays``, ``scalars``."""

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)

    @classmethod
    def from_dict(cls: type[T], d: Mapping[str, Any]) -> T:
        kwargs = {}
        hints = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        for name, f in hints.items():
            if name not in d:
                continue
            v = d[name]
            if isinstance(v, str) and v in ("nan", "inf", "-inf"):
                v = float(v)
            if isinstance(v, dict) and "mean" in v and "error" in v:
                v = Estimate(**{k: float(x) for k, x in v.items()})
            elif isinstance(v, list) and _is_array_type(f.type):
                v = np.asarray(v)
            kwargs[name] = v
        return cls(**kwargs)

    def arrays(self) -> dict[str, np.ndarray]:
        """The numpy-array fields (saved to ``.npz``)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if isinstance(getattr(self, f.name), np.ndarray)
        }

    def scalars(self) -> dict[str, Any]:
        """Every non-array field, JSON-ready (saved to ``.json``)."""
        return {
            f.name: to_jsonable(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if not isinstance(getattr(self, f.name), np.ndarray)
        }


def _is_array_type(tp: Any) -> bool:
    return "ndarray" in str(tp)


# ---------------------------------------------------------------------- atomic files
@functools.cache
def _umask() -> int:
    # read once (os.umask can only be read by setting it, which races with other threads)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder + ``os.replace``).

    The file gets the permissions an ordinary ``open(path, "w")`` would give (``0o666`` less the
    umask), not the owner-only ``0o600`` of the temporary file.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__} (encode text with atomic_write_text).")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path, got {type(path).__name__}.")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"path {path} is a directory; pass a file name inside it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}.")
    return atomic_write_bytes(path, text.encode("utf-8"))


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})  # type: ignore[arg-type]
    return buf.getvalue()


def save_result(result: Result, directory: str | os.PathLike[str], name: str = "results") -> Path:
    """Save ``result`` as ``NAME.json`` (scalars, with its type) plus ``NAME.npz`` (arrays), atomically."""
    if not isinstance(result, Result):
        raise TypeError(f"result must be a spinlens Result dataclass, got {type(result).__name__}.")
    directory = Path(directory)
    arrays = result.arrays()
    payload = {"type": type(result).__qualname__, "module": type(result).__module__, "data": result.scalars()}
    if arrays:
        atomic_write_bytes(directory / f"{name}.npz", _npz_bytes(arrays))
        payload["arrays"] = sorted(arrays)
    atomic_write_text(directory / f"{name}.json", json.dumps(payload, indent=2, sort_keys=True))
    return directory / f"{name}.json"


def load_result(cls: type[T], directory: str | os.PathLike[str], name: str = "results") -> T:
    """Inverse of :func:`save_result`."""
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory must be a path, got {type(directory).__name__}.")
    directory = Path(directory)
    if not directory.is_dir():
        if directory.exists():
            raise ValueError(f"directory {directory} is a file, not a results directory.")
        raise FileNotFoundError(f"results directory {directory} does not exist.")
    file = directory / f"{name}.json"
    if not file.is_file():
        raise FileNotFoundError(f"results directory {directory} has no {name}.json.")
    try:
        payload = json.loads(file.read_text())
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            raise ValueError("no 'data' table")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"results file {file} is not a spinlens results file ({exc}).") from None
    data = dict(payload["data"])
    if payload.get("arrays"):
        with np.load(directory / f"{name}.npz", allow_pickle=False) as z:
            for k in z.files:
                data[k] = z[k]
    return cls.from_dict(data)


# ---------------------------------------------------------------------- run directory
def package_versions() -> dict[str, str]:
    """Versions of spinlens, Python and the scientific stack (for manifests and ``doctor``)."""
    from importlib import metadata

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("spinlens", "numpy", "scipy", "numba", "torch", "matplotlib", "scikit-learn"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


class RunDir:
    """A run directory: ``manifest.json``, results, arrays, figures, ``report.html``.

    Parameters
    ----------
    path : folder to create (parents too).
    command : the command line or API call that produced the run.
    config : the resolved configuration (any JSON-able mapping or dataclass).
    seeds : seeds used, recorded for reproducibility.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        command: str = "",
        config: Any = None,
        seeds: Any = None,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a directory path, got {type(path).__name__}.")
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"run directory path {self.path} is an existing file; choose a directory.")
        self.path.mkdir(parents=True, exist_ok=True)
        self.manifest: dict[str, Any] = {
            "command": command,
            "config": to_jsonable(config) if config is not None else {},
            "seeds": to_jsonable(seeds) if seeds is not None else {},
            "versions": package_versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "files": {},
        }
        old = self.path / "manifest.json"
        if old.exists():
            with contextlib.suppress(ValueError, OSError):
                self.manifest["files"] = json.loads(old.read_text()).get("files", {})
        self.write_manifest()

    def write_manifest(self) -> Path:
        return atomic_write_text(self.path / "manifest.json", json.dumps(self.manifest, indent=2, sort_keys=True))

    def _record(self, kind: str, name: str) -> None:
        self.manifest["files"][name] = kind
        self.write_manifest()

    def save_result(self, result: Result, name: str = "results") -> Path:
        p = save_result(result, self.path, name)
        self._record("result", p.name)
        return p

    def save_json(self, obj: Any, name: str) -> Path:
        p = atomic_write_text(self.path / f"{name}.json", json.dumps(to_jsonable(obj), indent=2, sort_keys=True))
        self._record("json", p.name)
        return p

    def save_arrays(self, name: str, **arrays: np.ndarray) -> Path:
        p = atomic_write_bytes(self.path / f"{name}.npz", _npz_bytes(arrays))
        self._record("arrays", p.name)
        return p

    def save_figure(self, fig: Any, name: str, dpi: int = 120) -> Path:
        from spinlens.report.figures import figure_png

        p = atomic_write_bytes(self.path / f"{name}.png", figure_png(fig, dpi=dpi))
        self._record("figure", p.name)
        return p

    def __truediv__(self, other: str) -> Path:
        return self.path / other
