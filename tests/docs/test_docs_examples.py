"""Every ```python block in docs/ runs (blocks of a page share one namespace, in order)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = sorted(DOCS.glob("*.md"))
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


AREAS = ["index", "spins", "montecarlo", "meanfield", "memory", "networks", "landscape", "criticality", "sweeps",
         "cli"]


def test_docs_exist_and_every_page_is_in_the_nav() -> None:
    import yaml

    nav = yaml.safe_load((DOCS.parent / "mkdocs.yml").read_text())["nav"]
    in_nav = {Path(next(iter(item.values()))).stem for item in nav}
    assert {p.stem for p in PAGES} == in_nav
    assert set(AREAS) <= in_nav  # getting started + one page per area
    for page in PAGES:
        if page.stem not in ("index", "cli", "sweeps"):
            text = page.read_text()
            assert "```python" in text and "## References" in text, page.name


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_docs_examples_run(page: Path, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for i, code in enumerate(BLOCK.findall(page.read_text())):
        exec(compile(code, f"{page.name}[block {i}]", "exec"), namespace)  # noqa: S102
