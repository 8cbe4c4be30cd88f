"""Figures (matplotlib ``Figure`` objects, Agg) and the self-contained HTML report."""
from spinlens.report.figures import errorbar_plot, figure_png, line_plot, new_figure
from spinlens.report.html import Section, render_report, rerender, write_report

__all__ = [
    "Section",
    "errorbar_plot",
    "figure_png",
    "line_plot",
    "new_figure",
    "render_report",
    "rerender",
    "write_report",
]
