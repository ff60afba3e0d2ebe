"""The event-source documentation runs: every whole program in docs/sources/*.md and
docs/events.md, and the example app (standalone and through the CLI)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
PAGES = [*sorted((ROOT / "docs" / "sources").glob("*.md")), ROOT / "docs" / "events.md"]
PROGRAMS = [(f"{page.name}[{i}]", code) for page in PAGES
            for i, code in enumerate(_BLOCK.findall(page.read_text()))
            if "asyncio.run(" in code]


def test_every_page_has_a_program() -> None:
    assert {w.split("[")[0] for w, _ in PROGRAMS} == {p.name for p in PAGES}


@pytest.mark.parametrize(("where", "code"), PROGRAMS, ids=[w for w, _ in PROGRAMS])
def test_doc_program_runs(where: str, code: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(code, where, "exec"), {"__name__": "__main__"})
    out = capsys.readouterr().out
    for expected in re.findall(r"# prints: (.+)", code) + re.findall(r"print\(.*\)\s+# (\[.+)",
                                                                     code):
        assert expected.strip() in out, (where, out)


@pytest.mark.parametrize("command", [
    [sys.executable, "docs/examples/sources_app.py"],
    [sys.executable, "-m", "asynclambda", "run", "docs/examples/sources_app.py"],
])
def test_sources_example_app_runs_and_stops_by_itself(command: list[str]) -> None:
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "dead-lettered: 2" in out
    assert "'succeeded': 40" in out
    assert out.count("trending") == 2
    assert "report schedule: 1 run(s)" in out
