"""Multi-panel landscape figures are shown at the same scale as single-panel ones in report.html.

A fixed ``max-width`` for every image shrank the three-panel random-vs-Hessian figure to a third of the
scale of a single contour, which made its text unreadable. Each figure box now has the figure's width in
inches times one scale (at most the page width).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from spinlens.landscape import plots
from spinlens.landscape.surface import Surface2D
from spinlens.report import Section, render_report
from spinlens.results import atomic_write_bytes

PAGE = 1100  # body max-width in report.html's CSS (px)


def _surface() -> Surface2D:
    a = np.linspace(-1, 1, 7)
    loss = 1.0 + np.add.outer(a**2, 2 * a**2)
    return Surface2D(alphas=a, betas=a, loss=loss, loss0=1.0, directions=np.eye(2, 4), kind="random",
                     trajectory=np.zeros((0, 2)), curvatures=np.zeros(0))


def _widths(html: str) -> list[float]:
    return [float(w) for w in re.findall(r'<figure style="width:(\d+)px">', html)]


def test_wide_figures_get_the_page_width_and_single_ones_sit_two_in_a_row(tmp_path: Path) -> None:
    from spinlens.report import figure_png

    s = _surface()
    figs = {"planes": plots.plot_planes([s, s], ["random", "Hessian"]), "contour": plots.plot_contour(s),
            "spectrum": plots.plot_spectrum()}
    paths = []
    for name, fig in figs.items():
        paths.append(atomic_write_bytes(tmp_path / f"{name}.png", figure_png(fig)))
    html = render_report("t", [Section("figures", figures=[(p, p.stem) for p in paths])])
    planes, contour, spectrum = _widths(html)
    # same scale: the displayed width is proportional to the figure's width in inches
    assert planes / contour == pytest.approx(figs["planes"].get_figwidth() / figs["contour"].get_figwidth(), rel=0.01)
    assert planes > PAGE  # capped by the CSS max-width: the three panels take the whole page width
    margin = 16  # .5em each side
    assert 2 * (max(contour, spectrum) + margin) + 8 <= PAGE  # two single-panel figures share a row
    css = html.split("<style>")[1].split("</style>")[0]
    assert "max-width:520px" not in css and "max-width:calc(100% - 1em)" in css
    assert re.search(r"figure img\{[^}]*width:100%", css)


def test_figures_at_other_resolutions_keep_their_size(tmp_path: Path) -> None:
    from spinlens.report import figure_png, new_figure

    fig, _ = new_figure(1, 2)
    lo = atomic_write_bytes(tmp_path / "lo.png", figure_png(fig, dpi=80))
    hi = atomic_write_bytes(tmp_path / "hi.png", figure_png(fig, dpi=200))
    w_lo, w_hi = _widths(render_report("t", [Section("f", figures=[(lo, ""), (hi, "")])]))
    assert abs(w_lo - w_hi) <= 1
