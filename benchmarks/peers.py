"""The peer table: the library against the alternatives, each as a ratio to raw boto3.

    python benchmarks/run_all.py --peers            # the full run
    python benchmarks/run_all.py --peers --quick    # a smoke run: few repeats, small sizes

Each peer gets a virtual environment of its own, created on first use and reused after
(under ``~/.cache/typed-sagemaker-runtime/bench-peers/<peer>/``), with boto3 beside it.
Each column runs ``_peer_worker.py`` in its own process, in its peer's environment (this
library's columns in this interpreter's), against one ``_server.py`` on loopback; every
workload runs rep by rep against raw boto3 in the same process. A peer that cannot be
installed, or a workload that fails, is reported in the table with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import HERE, local_server, table
from _peer_worker import ENV, SIZES

CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "typed-sagemaker-runtime"
    / "bench-peers"
)
VENVS = {  # peer environment: what pip installs in it
    "capo": ("capo-sagemaker-runtime", "aiobotocore", "boto3"),
    "aiobotocore": ("aiobotocore", "boto3"),
    "langchain-aws": ("langchain-aws", "boto3"),
    "sagemaker-v2": ("sagemaker<3", "boto3"),
}
COLUMNS = (  # worker column, heading, peer environment (None: this interpreter)
    ("capo-sync", "capo sync", "capo"),
    ("capo-async", "capo async", "capo"),
    ("aiobotocore", "aiobotocore", "aiobotocore"),
    ("langchain", "langchain-aws LineIterator", "langchain-aws"),
    ("sagemaker-sdk", "SageMaker SDK v2 LineIterator", "sagemaker-v2"),
    ("ours-sync", "this library sync", None),
    ("ours-async", "this library async", None),
)
ROWS = (  # worker workload, label (which says which way is better)
    ("import", "import (time; lower is better)"),
    ("invoke", "invoke 1 KB (req/s; higher is better)"),
    ("first-event", "time to first stream event (lower is better)"),
    ("tiny-packed", "20 B parts, packed (events/s; higher is better)"),
    ("tiny-chunked", "20 B parts, one HTTP chunk each (events/s; higher is better)"),
    ("large", "64 KB parts (MB/s; higher is better)"),
    (
        "concurrent",
        "{streams} concurrent streams on one loop, wall vs aiobotocore (lower is better)",
    ),
    ("lines", "lines workload: lines/s vs boto3's bare events (higher is better)"),
    ("rss", "peak RSS streaming {rss_mib} MiB of lines (lower is better)"),
)
NOTES = (
    "Ratios are medians of per-rep ratios against raw boto3 run in turns in the same process "
    "(the concurrent row: against aiobotocore); a cell of '-' is a workload the column has "
    "no API for.",
    "import: a fresh interpreter importing what a call needs (the line iterators: boto3 and "
    "the iterator's module), over `import boto3` in the same environment.",
    "time to first stream event: from the call to the first event yielded; the server sends "
    "it with the response head.",
    "concurrent: every stream on one event loop, pools sized for them (botocore "
    "max_pool_connections, zapros max_connections_per_host).",
    "lines: 20,000 JSON lines in 32 B parts (lines cut across parts), one HTTP chunk each, "
    "ending in a newline (both LineIterators loop forever on a last line without one); the "
    "ratio is to raw boto3 iterating the events of the same stream. The LineIterators yield "
    "bytes, this library's lines() decoded str.",
    "peak RSS: a fresh process each (VmHWM), reading lines where the column has a line API "
    "and events otherwise; boto3: raw boto3 reading the events, in the same environment.",
)


class InstallFailed(Exception):
    """A peer's environment could not be created; the message says why."""


def environment(name: str) -> Path:
    """The Python of the peer's cached environment, created (or recreated) when needed."""
    home = CACHE / name
    python = home / "bin" / "python"
    marker = home / "requirements.txt"
    wanted = "\n".join(VENVS[name]) + "\n"
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    shutil.rmtree(home, ignore_errors=True)
    print(f"creating the {name} environment in {home}...", file=sys.stderr)
    install = [str(python), "-m", "pip", "install", "-q", *VENVS[name]]
    for command in ([sys.executable, "-m", "venv", str(home)], install):
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode:
            raise InstallFailed(last_error_line(result.stderr, result.returncode))
    marker.write_text(wanted)
    return python


def last_error_line(stderr: str, code: int) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("ERROR")]
    lines = lines or stderr.strip().splitlines() or [f"exit status {code}"]
    return lines[-1][:300]


def run_column(python: str, column: str, url: str, quick: bool) -> dict[str, Any]:
    """The worker's results for one column, or an error covering every row."""
    command = [python, str(HERE / "_peer_worker.py"), column, url, *(["--quick"] * quick)]
    try:
        result = subprocess.run(
            command, env=ENV, stdout=subprocess.PIPE, text=True, timeout=600 if quick else 3600
        )
    except subprocess.TimeoutExpired:
        return {"failed": "timed out"}
    lines = result.stdout.strip().splitlines()
    if result.returncode or not lines:
        return {"failed": f"the worker exited with status {result.returncode}"}
    return json.loads(lines[-1])  # a peer may print on import; the results come last


def measure(quick: bool) -> dict[str, dict[str, Any]]:
    pythons: dict[str | None, str | InstallFailed] = {None: sys.executable}
    for name in VENVS:
        try:
            pythons[name] = str(environment(name))
        except InstallFailed as exc:
            pythons[name] = exc
    results: dict[str, dict[str, Any]] = {}
    with local_server() as url:
        for column, _, venv in COLUMNS:
            python = pythons[venv]
            if isinstance(python, InstallFailed):
                results[column] = {"not installed": f"{venv}: {python}"}
                continue
            print(f"{column} ({python})...", file=sys.stderr)
            results[column] = run_column(python, column, url, quick)
    return results


# --- the table ----------------------------------------------------------------------------


def render(results: dict[str, dict[str, Any]], quick: bool) -> str:
    sizes = SIZES["quick" if quick else "full"]
    notes: list[str] = []
    rows: list[tuple[str, ...]] = []
    for workload, label in ROWS:
        cells = [format_cell(results[column], workload, notes) for column, _, _ in COLUMNS]
        rows.append((label.format(**sizes), *cells))
    header = ("workload, ratio to raw boto3 in the same process", *(h for _, h, _ in COLUMNS))
    lines = [table(rows, header), "", *version_notes(results)]
    lines += [f"[{index}] {note}" for index, note in enumerate(notes, 1)]
    return "\n".join(lines)


def format_cell(result: dict[str, Any], workload: str, notes: list[str]) -> str:
    if "not installed" in result:
        return footnote(notes, "not installed", result["not installed"])
    if "failed" in result:
        return footnote(notes, "failed", result["failed"])
    found: dict[str, Any] = result["cells"][workload]
    if "na" in found:
        return "-"
    if "error" in found:
        return footnote(notes, "failed", found["error"])
    return found.get("text") or f"{found['ratio']:.2f}"


def footnote(notes: list[str], label: str, reason: str) -> str:
    text = f"{label}: {reason}"
    if text not in notes:
        notes.append(text)
    return f"{label} [{notes.index(text) + 1}]"


def version_notes(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["Versions (each column's process):"]
    for column, heading, _ in COLUMNS:
        found = results[column].get("versions")
        if found:
            packages = ", ".join(f"{name} {version}" for name, version in found.items())
            lines.append(f"  {heading}: {packages}")
    return lines + [f"- {note}" for note in NOTES]


def details(results: dict[str, dict[str, Any]]) -> str:
    """The absolute figures behind each ratio, one line per cell."""
    lines = ["Absolute figures (column vs raw boto3 in the same process):"]
    for column, heading, _ in COLUMNS:
        for workload, found in results[column].get("cells", {}).items():
            if "detail" in found:
                lines.append(f"  {heading}, {workload}: {found['detail']}")
    return "\n".join(lines)


def main(quick: bool, json_path: str | None = None) -> None:
    started = time.perf_counter()
    results = measure(quick)
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=2))
    print(render(results, quick))
    print()
    print(details(results))
    print(f"\n({time.perf_counter() - started:.0f} s{', --quick' if quick else ''})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, small sizes")
    parser.add_argument("--json", metavar="PATH", help="also write the raw results here")
    args = parser.parse_args()
    main(args.quick, args.json)
