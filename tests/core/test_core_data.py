"""Bundled datasets load offline with the documented shapes and ranges; user files round-trip."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from spinlens.data import load_dataset, load_digits, load_idx, load_mnist5000, load_npz, teacher_student


def test_digits() -> None:
    d = load_digits()
    assert d.X.shape == (1797, 64) and d.X.min() >= 0 and d.X.max() <= 1
    b = load_digits(binarize=True, n_samples=100)
    assert set(np.unique(b.X)) <= {0.0, 1.0} and b.X.shape == (100, 64)


def test_mnist5000_is_balanced_after_shuffle() -> None:
    d = load_mnist5000(n_samples=1000)
    assert d.X.shape == (1000, 784) and d.image_shape == (28, 28)
    counts = np.bincount(d.y, minlength=10)
    assert counts.min() > 60  # a shuffled prefix holds every class
    # parsed once per process; callers get their own writable arrays
    raw = load_mnist5000(shuffle=False, binarize=True)
    assert raw.X.shape == (5000, 784) and set(np.unique(raw.X)) <= {0.0, 1.0}
    assert np.array_equal(np.bincount(raw.y), np.full(10, 500))
    raw.X[0, 0], raw.y[0] = 0.5, 9
    again = load_mnist5000(shuffle=False)
    assert again.y[0] == 0 and again.X.flags.writeable and again.y.flags.writeable


def test_idx_and_npz(tmp_path) -> None:
    imgs = np.random.default_rng(0).integers(0, 256, size=(5, 4, 4), dtype=np.uint8)
    labels = np.arange(5, dtype=np.uint8)
    with gzip.open(tmp_path / "img.idx.gz", "wb") as fh:
        fh.write(bytes([0, 0, 0x08, 3]) + struct.pack(">III", 5, 4, 4) + imgs.tobytes())
    with open(tmp_path / "lab.idx", "wb") as fh:
        fh.write(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 5) + labels.tobytes())
    d = load_idx(tmp_path / "img.idx.gz", tmp_path / "lab.idx")
    assert d.X.shape == (5, 16) and np.allclose(d.X * 255, imgs.reshape(5, -1))
    np.savez(tmp_path / "d.npz", X=imgs, y=labels)
    assert load_npz(tmp_path / "d.npz").X.shape == (5, 16)
    assert load_dataset(str(tmp_path / "d.npz")).y.tolist() == list(range(5))
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX"):
        load_idx(tmp_path / "bad.idx", tmp_path / "lab.idx")
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("imagenet")


def test_teacher_student_and_split() -> None:
    d = teacher_student(300, rng=0)
    tr, te = d.split(0.2, rng=0)
    assert len(tr.y) == 240 and len(te.y) == 60
    with pytest.raises(ValueError):
        d.split(1.5)
