#!/usr/bin/env python3
"""Print a pip constraints file pinning each dependency to the floor pyproject.toml declares.

    python scripts/floors.py > floors.txt
    pip install -c floors.txt -e '.[test]'

Covers ``[project] dependencies`` and the extras named with ``--extra`` (default: aio).
Each requirement must declare its floor with ``>=``; ``boto3>=1.34.70,<2`` becomes
``boto3==1.34.70``, so the resolver can neither upgrade it nor pick something else.
Standard library only; Python 3.10 has no ``tomllib``, so a reader for the few lines
needed stands in there.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*)(;.*)?$")
_FLOOR = re.compile(r">=\s*([^,\s]+)")


def _read_toml(text: str) -> dict[str, object]:
    """The tables of a TOML file; where Python 3.10 has no ``tomllib``, only what this needs.

    The stand-in knows tables and ``key = value`` at the start of a line whose value,
    possibly over several lines, reads as a Python literal (strings, numbers, arrays);
    it skips the other keys.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        pass
    else:
        return tomllib.loads(text)
    statements: list[str] = []
    for line in text.splitlines():
        if re.match(r"\[|[A-Za-z0-9_\"-][^=]*=", line) or not statements:
            statements.append(line)
        else:
            statements[-1] += "\n" + line
    tables: dict[str, object] = {}
    table = tables
    for statement in statements:
        if statement.startswith("["):
            table = tables
            for part in statement.strip().strip("[]").split("."):
                table = table.setdefault(part.strip().strip('"'), {})  # type: ignore[assignment]
            continue
        key, _, value = statement.partition("=")
        try:
            parsed = ast.literal_eval(value.strip())
        except (SyntaxError, ValueError):
            continue  # a value this stand-in cannot read (true, inline tables): not needed
        table[key.strip().strip('"')] = parsed
    return tables


def constraints(pyproject: str, extras: list[str]) -> list[str]:
    """``name==floor`` lines for the runtime dependencies and the given extras."""
    project = _read_toml(pyproject)["project"]
    assert isinstance(project, dict)
    requirements: list[str] = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise SystemExit(f"pyproject.toml has no extra {extra!r}")
        requirements += optional[extra]
    lines: dict[str, str] = {}
    for requirement in requirements:
        match = _REQUIREMENT.match(requirement)
        floor = _FLOOR.search(match.group(3)) if match else None
        if match is None or floor is None:
            raise SystemExit(f"{requirement!r} declares no floor (name>=version)")
        name = match.group(1)
        marker = f" ;{match.group(4)[1:]}" if match.group(4) else ""
        line = f"{name}=={floor.group(1)}{marker}"
        if lines.setdefault(name.lower().replace("_", "-"), line) != line:
            raise SystemExit(f"{name} is declared with two different floors")
    return list(lines.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", action="append", help="an extra to pin too (default: aio)")
    args = parser.parse_args()
    lines = constraints(PYPROJECT.read_text(encoding="utf-8"), args.extra or ["aio"])
    sys.stdout.write("".join(f"{line}\n" for line in lines))


if __name__ == "__main__":
    main()
