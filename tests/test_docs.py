"""The documentation's code runs: every ``python`` and ``bash`` block of the site's pages, page by
page and in order (a page's Python blocks share one namespace, like a notebook), in a fresh
folder. A block whose first line is ``# not run: <why>`` is the only kind skipped; the site shows
that line, so a reader sees which blocks were not run and why.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.S | re.M)
NOT_RUN = "# not run:"
#: Pages whose code needs TensorFlow.
KERAS_PAGES = {"guides/keras-run.md"}


def blocks(page: Path) -> list[tuple[str, str]]:
    """The page's (language, code) blocks that run, in order."""
    found = [(lang, code) for lang, code in FENCE.findall(page.read_text()) if lang in ("python", "bash")]
    return [(lang, code) for lang, code in found if not code.lstrip().startswith(NOT_RUN)]


PAGES = sorted(str(p.relative_to(DOCS)) for p in [DOCS / "index.md", DOCS / "getting-started.md",
                                                   *DOCS.glob("guides/*.md"), *DOCS.glob("reference/*.md")]
               if blocks(p))


def test_the_marker_is_the_only_way_out():
    skipped = [(page, code.splitlines()[0]) for page in PAGES
               for lang, code in FENCE.findall((DOCS / page).read_text())
               if lang in ("python", "bash") and code.lstrip().startswith(NOT_RUN)]
    assert all(len(line) > len(NOT_RUN) + 5 for _, line in skipped)  # each says why
    guides = [p for p in PAGES if p.startswith("guides/")]
    assert len(guides) == 6  # every guide has code that runs


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_page_code_runs(page, tmp_path, monkeypatch):
    if page in KERAS_PAGES:
        pytest.importorskip("tensorflow")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "MPLBACKEND": "Agg"}
    namespace: dict = {"__name__": "__docs__"}
    for number, (lang, code) in enumerate(blocks(DOCS / page), 1):
        if lang == "python":
            exec(compile(code, f"{page}, block {number}", "exec"), namespace)
        else:
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"{page}, block {number}:\n{done.stdout}\n{done.stderr}"
