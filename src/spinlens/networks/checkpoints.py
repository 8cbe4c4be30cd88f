r"""Checkpoints on disk: one safe loader and one rule for the training step of each file.

Checkpoints are untrusted input. :func:`load_checkpoint` reads ``.pt``/``.pth``/``.ckpt``/``.bin`` files with
``torch.load(weights_only=True)`` and ``.safetensors`` with safetensors; it never unpickles arbitrary objects,
and every failure is one :class:`CheckpointError` (a ``ValueError``) whose message says what is wrong with
*this* file and how to save it so that it loads.

Accepted layouts (the state dict is found as follows):

* a plain state dict ``{name: tensor}`` (``torch.save(model.state_dict(), path)``, safetensors);
* a training dict holding one state dict under ``state_dict`` (PyTorch Lightning ``*.ckpt``),
  ``model_state_dict``, ``model``, ``net``, ``network``, ``module``, ``state`` or ``weights``, or as its only
  mapping of tensors, beside other entries (epoch, optimizer state, ...).

:func:`list_checkpoints` gives each file of a folder its training step, and never guesses one. The step of a
file is, in this order:

1. the ``--steps-from`` table when given (a CSV ``file,step`` or a JSON ``{file: step}``): exactly the files it lists;
2. the ``checkpoints.json`` index that :func:`spinlens.networks.train` writes;
3. its name: the number after ``step`` (``step_100.pt``, ``step=100``, ``epoch=3-step=1200.ckpt``,
   ``global_step300``; two ``step`` words are ambiguous), else the one number of a name that has exactly one,
   standing apart from letters, not naming an epoch (``ckpt_100.pt``, ``000100.safetensors``, ``iter-300.pth``)
   — and such bare numbers only where no file of the folder names its step and all are named alike.

A file whose step cannot be read that way (``final.pt``, ``best_v2.ckpt``, ``epoch_3.pt``, ``run2_300.pt``,
``resnet18.pt``, or ``ckpt_20.pt`` beside ``step_10.pt``) is refused by name, with the ways out: rename it,
list it in ``--steps-from``, or move it out of the folder.
Files whose names say they hold training state rather than weights (``optim``, ``optimizer``, ``scheduler``,
``scaler``, ``rng_state``, ``trainer_state``) are skipped.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["CheckpointError", "load_checkpoint", "list_checkpoints", "checkpoint_step", "read_steps_file",
           "CHECKPOINT_SUFFIXES"]

#: File suffixes read as checkpoints.
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".safetensors")
_TRAINING_STATE = re.compile(r"optim|scheduler|scaler|rng_state|trainer_state|training_args", re.IGNORECASE)
#: Keys under which training dicts nest the model's state dict, in order of preference.
NESTED_KEYS = ("state_dict", "model_state_dict", "model", "net", "network", "module", "state", "weights")
_SAVE_HINT = "save the weights with torch.save(model.state_dict(), path) or as .safetensors"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read as a network's weights (the message says why and what to do)."""


# ---------------------------------------------------------------------------------------------- loading
def _torch_load(p: Path) -> Any:
    import pickle

    import torch

    data = p.read_bytes()
    if not data:
        raise CheckpointError(f"{p} is empty (0 bytes): the save was interrupted or the file is not a checkpoint.")
    try:
        with warnings.catch_warnings():  # torch warns about old pickle protocols before refusing them
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower() or "weights_only" in str(exc):
            raise CheckpointError(
                f"{p} holds Python objects besides tensors (a pickled nn.Module, a class, or code). spinlens never "
                f"unpickles such objects, since loading them can run arbitrary code: {_SAVE_HINT}."
            ) from None
        raise CheckpointError(f"{p} is not a PyTorch checkpoint (its bytes do not unpickle): {_SAVE_HINT}.") from None
    except Exception:  # RuntimeError (not a zip), EOFError, ...: torch's own text may advise unsafe loading
        kind = "not a PyTorch checkpoint"
        if zipfile.is_zipfile(io.BytesIO(data)):
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
            kind = ("a damaged torch.save file" if any(n.endswith("data.pkl") for n in names)
                    else "a zip archive (e.g. .npz), not a torch.save file")
        elif data[:2] == b"PK":
            kind = "a truncated file"
        raise CheckpointError(f"{p} is {kind}: torch.load cannot read it. {_SAVE_HINT[0].upper()}{_SAVE_HINT[1:]}.") \
            from None


def _is_tensor_map(obj: Any) -> bool:
    import torch

    return isinstance(obj, Mapping) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _unwrap(obj: Any, p: Path) -> dict[str, Any]:
    """The state dict inside what ``torch.load`` returned (see the module docstring for the layouts)."""
    import torch

    if not isinstance(obj, Mapping) or not obj:
        what = "an empty mapping" if isinstance(obj, Mapping) else f"a {type(obj).__name__}"
        raise CheckpointError(f"{p} holds {what}, not a state dict of parameter tensors: {_SAVE_HINT}.")
    if {"state", "param_groups"} <= set(obj):
        raise CheckpointError(f"{p} is an optimizer's state (optimizer.state_dict()), not a network's weights; "
                              "move it out of the checkpoint folder or name it optimizer_*.pt.")
    if _is_tensor_map(obj):
        return dict(obj)
    nested = {k: v for k, v in obj.items() if _is_tensor_map(v)}
    for key in NESTED_KEYS:
        if key in nested:
            return dict(nested[key])
    if len(nested) == 1:
        return dict(next(iter(nested.values())))
    if len(nested) > 1:
        raise CheckpointError(f"{p} holds several state dicts ({', '.join(map(repr, nested))}) and none under "
                              f"{NESTED_KEYS[0]!r}: save the network to analyse on its own.")
    not_tensors = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    raise CheckpointError(
        f"{p} is not a state dict: entries {not_tensors[:4]} are not tensors and no entry holds a state dict "
        f"(looked under {', '.join(NESTED_KEYS[:4])}, ...). {_SAVE_HINT[0].upper()}{_SAVE_HINT[1:]}."
    )


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state dict ``{name: tensor}`` stored in a checkpoint file, read safely.

    Parameters
    ----------
    path : str or PathLike
        A ``.safetensors`` file, or a ``torch.save`` file (any other suffix) holding a state dict or a training
        dict that nests one (the layouts are listed in the module docstring).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    CheckpointError
        (a ``ValueError``) For anything that is not a state dict of tensors: a pickle that would run code (refused
        without running it), a text or empty file, an optimizer state, several state dicts in one file.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"checkpoint {p} does not exist.")
    if p.is_dir():
        raise CheckpointError(f"{p} is a folder, not a checkpoint file; pass one of the files in it.")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            obj: Any = load_file(str(p), device="cpu")
        except Exception:  # safetensors raises its own error types
            raise CheckpointError(f"{p} is not a valid safetensors file (the header cannot be read).") from None
    else:
        obj = _torch_load(p)
    return _unwrap(obj, p)


# ---------------------------------------------------------------------------------------------- steps
_STEP_WORD = re.compile(r"(?:^|[^a-z])(?:global_?)?steps?[-_=]?(\d+)", re.IGNORECASE)
_STEP_WORDS = re.compile(r"(?:^|[^a-z])(?:global_?)?steps?(?![a-z])", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"(?:^|(?<=[-_=.]))(\d+)(?=$|[-_=.])")


def _stem(name: str) -> str:
    stem = Path(name).name
    for suffix in CHECKPOINT_SUFFIXES:
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def checkpoint_step(name: str) -> int | None:
    """The training step in a checkpoint's file name, or None where the name does not state one.

    ``step_100.pt``, ``step=100``, ``epoch=3-step=1200.ckpt`` and ``global_step300`` → the number after ``step``
    (a name with two ``step`` words is ambiguous: None). Otherwise a name whose only number stands apart from
    letters and does not name an epoch (``ckpt_100.pt``, ``000100.pt``, ``iter-300.pth``); folders must name such
    files alike (:func:`list_checkpoints`). ``final.pt``, ``epoch_3.pt``, ``run2_300.pt``, ``resnet18.pt``,
    ``model_v2.pt`` → None.
    """
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(f"checkpoint_step: name must be a file name (str or path), got {type(name).__name__}.")
    stem = _stem(os.fspath(name))
    if len(_STEP_WORDS.findall(stem)) > 1:
        return None
    m = _STEP_WORD.search(stem)
    if m:
        return int(m.group(1))
    if "epoch" in stem.lower() or len(re.findall(r"\d+", stem)) != 1:
        return None
    bare = _BARE_NUMBER.search(stem)
    return int(bare.group(1)) if bare else None


def _skeleton(name: str) -> str:
    """The file name with its step number replaced by ``#`` (files of one run share it)."""
    stem = _stem(name)
    m = _STEP_WORD.search(stem) or _BARE_NUMBER.search(stem)
    if m is None:
        return stem
    return stem[: m.start(1)] + "#" + stem[m.end(1):] + Path(name).suffix


def read_steps_file(path: str | os.PathLike[str]) -> dict[str, int]:
    """``{file name: step}`` from a CSV (``file,step`` per line, header optional) or a JSON file.

    JSON may be ``{"file": step}``, a list of ``{"file": ..., "step": ...}``, or a ``checkpoints.json`` index.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"--steps-from file {p} does not exist.")
    text = p.read_text()
    out: dict[str, int] = {}

    def add(name: Any, step: Any, where: str) -> None:
        try:
            s = int(str(step).strip())
        except ValueError:
            raise ValueError(f"{p}: {where}: step {step!r} is not an integer.") from None
        if s < 0:
            raise ValueError(f"{p}: {where}: step {s} is negative.")
        name = Path(str(name).strip()).name
        if name in out:
            raise ValueError(f"{p}: {where}: file {name} is listed twice.")
        out[name] = s

    if p.suffix == ".json":
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{p} is not valid JSON: {exc}") from None
        if isinstance(obj, Mapping) and "checkpoints" in obj:
            obj = obj["checkpoints"]
        if isinstance(obj, Mapping):
            for k, v in obj.items():
                add(k, v, f"entry {k!r}")
        elif isinstance(obj, list) and all(isinstance(r, Mapping) and {"file", "step"} <= set(r) for r in obj):
            for i, r in enumerate(obj):
                add(r["file"], r["step"], f"entry {i}")
        else:
            raise ValueError(f"{p}: expected {{\"file\": step}} or a list of {{\"file\", \"step\"}} records.")
    else:
        first = True
        for i, row in enumerate(csv.reader(io.StringIO(text))):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if len(row) != 2:
                raise ValueError(f"{p}: line {i + 1} has {len(row)} fields; each line is: file,step")
            if first and row[1].strip().lower() == "step":
                first = False
                continue  # the header
            first = False
            add(row[0], row[1], f"line {i + 1}")
    if not out:
        raise ValueError(f"{p} lists no checkpoints (each line: file,step).")
    return out


def list_checkpoints(path: str | os.PathLike[str], steps_from: str | os.PathLike[str] | None = None,
                     ) -> list[tuple[int, Path]]:
    """``(step, file)`` of every checkpoint in a folder (or of one checkpoint file), sorted by step.

    The step of each file comes from ``steps_from``, the folder's ``checkpoints.json`` or the file name, by the
    rule of the module docstring; a file with no readable step is refused, never given one.

    Raises
    ------
    FileNotFoundError
        If ``path`` (or ``steps_from``) does not exist, or ``steps_from`` names a file that is not there.
    CheckpointError
        No checkpoint files, files whose step cannot be read (named in the message), two files with one step.
    """
    from spinlens.networks.train import read_checkpoint_index

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"checkpoint folder {p} does not exist.")
    folder = p.parent if p.is_file() else p
    if steps_from is not None:
        table = read_steps_file(steps_from)
        missing = [name for name in table if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(f"--steps-from lists files that are not in {folder}: {', '.join(missing[:5])}.")
        if p.is_file():
            if p.name not in table:
                raise CheckpointError(f"--steps-from does not list {p.name}.")
            table = {p.name: table[p.name]}
        return _by_step([(s, folder / name) for name, s in table.items()], folder)
    if p.is_file():
        if p.suffix not in CHECKPOINT_SUFFIXES:
            raise CheckpointError(f"{p} is not a checkpoint file (suffixes {', '.join(CHECKPOINT_SUFFIXES)}); pass "
                                  "a checkpoint or the folder that holds them.")
        files = [p]
    else:
        index = read_checkpoint_index(p)
        if index is not None and index.get("checkpoints"):
            return _by_step([(int(r["step"]), p / r["file"]) for r in index["checkpoints"]
                             if (p / r["file"]).is_file()], p)
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix in CHECKPOINT_SUFFIXES
                       and not _TRAINING_STATE.search(f.name))
        if not files:
            raise CheckpointError(f"{p} holds no checkpoint files ({', '.join(CHECKPOINT_SUFFIXES)}).")
    steps = [(checkpoint_step(f.name), f) for f in files]
    unnamed = [f.name for s, f in steps if s is None]
    bare = [f.name for s, f in steps if s is not None and not _STEP_WORD.search(_stem(f.name))]
    if not unnamed and bare:
        # a bare number (ckpt_100.pt) is a step only where no file names its step and all are named alike
        if len(bare) < len(files):
            unnamed = bare
        else:
            skeletons: dict[str, list[str]] = {}
            for name in bare:
                skeletons.setdefault(_skeleton(name), []).append(name)
            common = max(skeletons.values(), key=len)
            unnamed = sorted(n for names in skeletons.values() if names is not common for n in names)
    if unnamed:
        listed = ", ".join(unnamed[:6]) + (f" and {len(unnamed) - 6} more" if len(unnamed) > 6 else "")
        if p.is_file():
            raise CheckpointError(f"cannot tell the training step of {p.name}: spinlens never guesses a step. Name it "
                                  "with its step (step_002000.pt) or pass --steps-from steps.csv (a line: file,step).")
        raise CheckpointError(
            f"cannot tell the training step of {listed}: spinlens never guesses a step. Rename "
            f"{'it' if len(unnamed) == 1 else 'them'} with the step (step_002000.pt), move "
            f"{'it' if len(unnamed) == 1 else 'them'} out of {folder}, or pass --steps-from steps.csv "
            "(one line per file: file,step)."
        )
    return _by_step([(int(s), f) for s, f in steps if s is not None], folder)


def _by_step(pairs: list[tuple[int, Path]], folder: Path) -> list[tuple[int, Path]]:
    if not pairs:
        raise CheckpointError(f"{folder} holds no checkpoint files listed for analysis.")
    seen: dict[int, Path] = {}
    for s, f in pairs:
        if s in seen:
            raise CheckpointError(f"files {seen[s].name} and {f.name} both have step {s}: remove one, or pass "
                                  "--steps-from steps.csv (file,step) with the right steps.")
        seen[s] = f
    return sorted(pairs)
