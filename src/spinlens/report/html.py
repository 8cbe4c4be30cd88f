"""A self-contained ``report.html``: figures embedded as base64 PNG, tables, configuration, versions."""
from __future__ import annotations

import base64
import html
import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinlens.results import atomic_write_text, to_jsonable
from spinlens.spins.model import _describe

__all__ = ["Section", "write_report", "render_report", "rerender"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#1d2430;line-height:1.45}
h1{border-bottom:2px solid #3b6ea5;padding-bottom:.2em}h2{color:#3b6ea5;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccd;padding:.25em .6em;text-align:left}
th{background:#eef2f8}figure{display:inline-block;margin:.5em;vertical-align:top;max-width:calc(100% - 1em)}
figure img{display:block;width:100%;height:auto;border:1px solid #dde;box-sizing:border-box}
figcaption{font-size:.9em;color:#555}
pre{background:#f5f6f8;padding:.6em;overflow-x:auto;font-size:.85em}.note{color:#555}
"""


@dataclass
class Section:
    """One section of a report: a title, paragraphs, tables (list of row dicts) and figures (PNG paths)."""

    title: str
    text: Sequence[str] = ()
    tables: Sequence[tuple[str, Sequence[Mapping[str, Any]]]] = ()
    figures: Sequence[tuple[str | Path, str]] = ()  # (png path, caption)
    extra_html: str = ""
    anchors: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.title, str):
            raise TypeError(f"title must be a string, got {type(self.title).__name__} ({_describe(self.title)}).")
        if isinstance(self.text, str) or not isinstance(self.text, Sequence) or \
                not all(isinstance(t, str) for t in self.text):
            raise TypeError(f"text must be a list of paragraph strings, got {_describe(self.text)}.")
        self.tables = [_checked_table(i, t) for i, t in enumerate(_seq(self.tables, "tables"))]
        self.figures = [_checked_figure(i, f) for i, f in enumerate(_seq(self.figures, "figures"))]
        if not isinstance(self.extra_html, str):
            raise TypeError(f"extra_html must be a string, got {type(self.extra_html).__name__}.")


def _seq(value: Any, name: str) -> Sequence[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list, got {_describe(value)}.")
    return value


def _checked_table(i: int, t: Any) -> tuple[str, list[Mapping[str, Any]]]:
    if not isinstance(t, (tuple, list)) or len(t) != 2 or not isinstance(t[0], str):
        raise TypeError(f"tables[{i}] must be a pair (caption, rows), got {_describe(t)}.")
    rows = t[1]
    if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence) or \
            not all(isinstance(r, Mapping) for r in rows):
        raise TypeError(f"tables[{i}] ({t[0]!r}): rows must be a list of dicts {{column: value}}, got "
                        f"{_describe(rows)}.")
    return t[0], list(rows)


def _checked_figure(i: int, f: Any) -> tuple[str | Path, str]:
    if not isinstance(f, (tuple, list)) or len(f) != 2 or not isinstance(f[0], (str, Path)) \
            or not isinstance(f[1], str):
        raise TypeError(f"figures[{i}] must be a pair (png path, caption), got {_describe(f)}.")
    return f[0], f[1]


def _sections(sections: Any) -> list[Section]:
    if isinstance(sections, (str, bytes)) or not isinstance(sections, Sequence):
        raise TypeError(f"sections must be a list of Section objects, got {_describe(sections)}.")
    for i, s in enumerate(sections):
        if not isinstance(s, Section):
            raise TypeError(f"sections[{i}] must be a Section, got {type(s).__name__} ({_describe(s)}).")
    return list(sections)


def _table(caption: str, rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c, '')))}</td>" for c in cols) + "</tr>" for r in rows
    )
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<tr>{head}</tr>{body}</table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


#: CSS pixels per inch of figure: every figure is drawn at the same scale, so its text (sized in points by
#: matplotlib) reads the same in a one-panel and a three-panel figure; single-panel figures (4.8-5.8 in wide)
#: still sit two in a row on the 1100 px page, wider ones take up to the page width.
_CSS_PX_PER_INCH = 90.0
_DEFAULT_DPI = 120.0  # RunDir.save_figure / figure_png


def _png_size_inches(data: bytes) -> tuple[float, float] | None:
    """The figure size (width, height) in inches of a PNG: pixels (IHDR) over its resolution (pHYs).

    Matplotlib writes the resolution of ``savefig(dpi=...)`` into the pHYs chunk; a PNG without one is taken
    at 120 dpi (the default of :func:`~spinlens.report.figure_png`). None for data that is not a PNG.
    """
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", data[16:24])
    dpi_x = dpi_y = _DEFAULT_DPI
    pos = 8
    while pos + 8 <= len(data):  # walk the chunks up to the image data (pHYs must come before IDAT)
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"pHYs" and length == 9 and pos + 17 <= len(data):
            ppx, ppy, unit = struct.unpack(">IIB", data[pos + 8 : pos + 17])
            if unit == 1 and ppx > 0 and ppy > 0:  # pixels per metre
                dpi_x, dpi_y = ppx * 0.0254, ppy * 0.0254
            break
        if kind in (b"IDAT", b"IEND"):
            break
        pos += 12 + length
    return w / dpi_x, h / dpi_y


def _img(path: str | Path, caption: str) -> str:
    raw = Path(path).read_bytes()
    data = base64.b64encode(raw).decode("ascii")
    alt = html.escape(caption or Path(path).stem)
    size = _png_size_inches(raw)
    # the figure box has the figure's width at a fixed scale (at most the page width); the caption wraps inside it
    style = f' style="width:{size[0] * _CSS_PX_PER_INCH:.0f}px"' if size else ""
    return (
        f'<figure{style}><img alt="{alt}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def render_report(title: str, sections: Sequence[Section], manifest: Mapping[str, Any] | None = None) -> str:
    """The report page as one HTML string (no external resources)."""
    if not isinstance(title, str):
        raise TypeError(f"title must be a string, got {type(title).__name__}.")
    sections = _sections(sections)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for s in sections:
        parts.append(f"<section><h2>{html.escape(s.title)}</h2>")
        parts += [f"<p>{html.escape(t)}</p>" for t in s.text]
        parts += [_table(c, rows) for c, rows in s.tables]
        parts += [_img(p, c) for p, c in s.figures]
        parts.append(s.extra_html)
        parts.append("</section>")
    if manifest:
        m = dict(manifest)
        parts.append("<section><h2>Configuration and versions</h2>")
        parts.append(f"<p class='note'>Command: <code>{html.escape(str(m.get('command', '')))}</code></p>")
        parts.append(f"<pre>{html.escape(json.dumps(to_jsonable(m.get('config', {})), indent=2))}</pre>")
        vers = m.get("versions", {})
        parts.append(_table("versions", [{"package": k, "version": v} for k, v in vers.items()]))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    path: str | Path, title: str, sections: Sequence[Section], manifest: Mapping[str, Any] | None = None
) -> Path:
    """Write ``report.html`` atomically (``path`` is the file or its run directory).

    The page's content is also saved as ``report.json`` beside it (figures by file name), so that
    :func:`rerender` (``spinlens report RUN_DIR``) can rebuild the page from the run directory alone.
    """
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a file or directory path, got {type(path).__name__} ({_describe(path)}).")
    sections = _sections(sections)
    path = Path(path)
    if path.is_dir() or path.suffix != ".html":
        path = path / "report.html"
    spec = {
        "title": title,
        "sections": [
            {
                "title": s.title,
                "text": list(s.text),
                "tables": [[c, [dict(r) for r in rows]] for c, rows in s.tables],
                "figures": [[_relative(p, path.parent), c] for p, c in s.figures],
                "extra_html": s.extra_html,
            }
            for s in sections
        ],
    }
    atomic_write_text(path.parent / "report.json", json.dumps(to_jsonable(spec), indent=2))
    return atomic_write_text(path, render_report(title, sections, manifest))


def _relative(p: str | Path, base: Path) -> str:
    p = Path(p)
    try:
        return str(p.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(p)


def rerender(run_dir: str | Path) -> Path:
    """Rebuild ``report.html`` of a run directory from its ``report.json``, figures and ``manifest.json``.

    Raises ``FileNotFoundError`` for a missing run directory or ``report.json``, ``ValueError`` for a path that is
    a file or a ``report.json``/``manifest.json`` that is not the JSON :func:`write_report` writes.
    """
    if not isinstance(run_dir, (str, Path)):
        raise TypeError(f"run_dir must be the path of a run directory, got {type(run_dir).__name__} "
                        f"({_describe(run_dir)}).")
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise FileNotFoundError(f"run directory {run_dir} does not exist.")
    if not run_dir.is_dir():
        raise ValueError(f"run_dir {run_dir} is a file, not a run directory; pass the folder that holds "
                         "report.json.")
    spec_path = run_dir / "report.json"
    if not spec_path.exists():
        raise FileNotFoundError(f"{run_dir} has no report.json: is it a spinlens run directory?")
    spec = _read_json(spec_path)
    manifest_path = run_dir / "manifest.json"
    manifest = _read_json(manifest_path) if manifest_path.exists() else None
    sections = []
    try:
        title = spec["title"]
        for s in spec["sections"]:
            figs = []
            for name, cap in s["figures"]:
                fp = run_dir / name if not Path(name).is_absolute() else Path(name)
                if not fp.exists():
                    raise FileNotFoundError(f"figure {fp} named in report.json is missing from the run directory.")
                figs.append((fp, cap))
            sections.append(Section(s["title"], s["text"], [(c, rows) for c, rows in s["tables"]], figs,
                                    s.get("extra_html", "")))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{spec_path} is not a report written by spinlens ({type(exc).__name__}: {exc}); "
                         "re-run the command to write it again.") from None
    if not isinstance(manifest, (dict, type(None))):
        raise ValueError(f"{manifest_path} does not hold a JSON object; re-run the command to write it again.")
    return atomic_write_text(run_dir / "report.html", render_report(title, sections, manifest))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} of the run directory is not valid JSON ({exc}); re-run the command that wrote "
                         "it.") from None
