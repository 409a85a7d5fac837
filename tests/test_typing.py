"""Type checkers reject misuse: every ``# expect-error`` line fails, and no other line does.

The accepted side (tests/typing/api_usage.py, src, examples) is checked by the plain
``mypy`` and ``pyright`` runs of the test command.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FAIL_DIR = Path(__file__).parent / "typing" / "fail"
FAIL_FILES = sorted(FAIL_DIR.glob("*.py"))
ROOT = Path(__file__).parent.parent


def expected_lines(path: Path) -> set[int]:
    lines = path.read_text().splitlines()
    return {number for number, line in enumerate(lines, 1) if "# expect-error" in line}


@pytest.mark.parametrize("path", FAIL_FILES, ids=lambda p: p.name)
def test_mypy_rejects_exactly_the_marked_lines(path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--no-incremental",
            "--hide-error-context",
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    errors = {
        int(match.group(1))
        for match in re.finditer(rf"{re.escape(path.name)}:(\d+): error:", result.stdout)
    }
    assert errors == expected_lines(path), result.stdout


@pytest.mark.parametrize("path", FAIL_FILES, ids=lambda p: p.name)
def test_pyright_rejects_exactly_the_marked_lines(path: Path) -> None:
    pyright = shutil.which("pyright", path=str(Path(sys.executable).parent))
    if pyright is None:
        pytest.fail("pyright is not installed in this environment; install the 'test' extra")
    result = subprocess.run(
        [pyright, "--outputjson", "--pythonpath", sys.executable, "--project", str(FAIL_DIR)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    report = json.loads(result.stdout)
    assert report["summary"]["filesAnalyzed"] == len(FAIL_FILES)
    errors = {
        d["range"]["start"]["line"] + 1
        for d in report["generalDiagnostics"]
        if d["severity"] == "error" and Path(d["file"]).name == path.name
    }
    assert errors == expected_lines(path), report["generalDiagnostics"]
