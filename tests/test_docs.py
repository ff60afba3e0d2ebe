"""The documentation's code runs: the quickstart, the README, and the example app."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _blocks(path: Path) -> list[str]:
    return _BLOCK.findall(path.read_text())


def _runnable(path: Path) -> list[tuple[str, str]]:
    # Blocks that are whole programs (they call asyncio.run) are executed; fragments are not.
    return [(f"{path.name}[{i}]", code) for i, code in enumerate(_blocks(path))
            if "asyncio.run(" in code]


DOC_PROGRAMS = _runnable(ROOT / "docs" / "quickstart.md") + _runnable(ROOT / "README.md")


def test_the_quickstart_has_programs_to_run() -> None:
    assert len(DOC_PROGRAMS) >= 5


@pytest.mark.parametrize(("where", "code"), DOC_PROGRAMS, ids=[w for w, _ in DOC_PROGRAMS])
def test_doc_program_runs(where: str, code: str, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    exec(compile(code, where, "exec"), {"__name__": "__main__"})


def test_example_app_runs_through_the_cli() -> None:
    proc = subprocess.run([sys.executable, "-m", "asynclambda", "run", "docs/examples/app.py"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Init Duration:" in out  # cold starts show their INIT
    assert re.search(r"REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms", out)
    assert "cold starts: [False, True, True, True]" in out
    assert "Bonjour, Ada!" in out


def test_example_app_runs_standalone() -> None:
    proc = subprocess.run([sys.executable, "docs/examples/app.py"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "statistics" in proc.stdout
