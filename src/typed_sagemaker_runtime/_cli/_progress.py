"""``smr invoke-many``'s progress on standard error, refreshed by a thread of its own.

On a terminal, with rich installed (the ``cli`` extra): a rich progress bar. Otherwise
(a log file, a pipe, CI, or no rich): a plain line every ``--progress-interval``
seconds, such as ``smr: 1,204/10,000 records, 310/s, 16 in flight, 3 throttled, 0
failed, ETA 0:28``. The thread reads the run's counters as it goes, so the display
moves on while no record completes (a slow endpoint, throttling, the wait after Ctrl-C).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = ["Snapshot", "Ticker", "clock", "open_display"]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Where the run is: the records written, and the run's counters."""

    written: int
    total: int | None
    failed: int
    throttled: int
    retried: int
    in_flight: int
    records_per_second: float
    stopping: bool = False


def clock(seconds: float) -> str:
    """``0:28``, ``12:05`` or ``3:02:10``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def _eta(snapshot: Snapshot) -> str:
    if snapshot.total is None or snapshot.records_per_second <= 0:
        return "ETA -"
    remaining = max(0, snapshot.total - snapshot.written)
    return f"ETA {clock(remaining / snapshot.records_per_second)}"


def _counters(snapshot: Snapshot) -> str:
    return (
        f"{snapshot.records_per_second:,.0f}/s, {snapshot.in_flight:,} in flight, "
        f"{snapshot.throttled:,} throttled, {snapshot.failed:,} failed"
    )


def _records(snapshot: Snapshot) -> str:
    total = "" if snapshot.total is None else f"/{snapshot.total:,}"
    return f"{snapshot.written:,}{total} records"


def progress_line(snapshot: Snapshot) -> str:
    """The plain progress line (without a newline)."""
    if snapshot.stopping:
        return f"smr: stopping after what is in flight: {_records(snapshot)}, {_counters(snapshot)}"
    return f"smr: {_records(snapshot)}, {_counters(snapshot)}, {_eta(snapshot)}"


class Display(Protocol):
    """Where the progress goes."""

    interval: float

    def show(self, snapshot: Snapshot) -> None: ...

    def close(self) -> None: ...


class _Lines:
    """A plain line per interval."""

    def __init__(self, err: TextIO, interval: float) -> None:
        self._err = err
        self.interval = interval

    def show(self, snapshot: Snapshot) -> None:
        print(progress_line(snapshot), file=self._err, flush=True)

    def close(self) -> None:
        pass


class _Bar:
    """A rich progress bar, redrawn a few times a second."""

    interval = 0.2

    def __init__(self, progress: Progress, total: int | None) -> None:
        self._progress = progress
        self._task = progress.add_task("smr", total=total, records="", counters="", eta="")
        progress.start()

    def show(self, snapshot: Snapshot) -> None:
        description = "[yellow]stopping[/]" if snapshot.stopping else "smr"
        self._progress.update(
            self._task,
            description=description,
            completed=snapshot.written,
            records=_records(snapshot),
            counters=_counters(snapshot),
            eta="" if snapshot.stopping else _eta(snapshot),
            refresh=True,
        )

    def close(self) -> None:
        self._progress.stop()


def _rich_bar(err: TextIO, total: int | None) -> Display | None:
    """A rich bar on ``err``, or ``None`` when rich is not installed."""
    try:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn
    except ImportError:
        return None
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=None),  # what the text leaves: the text fits 80 columns
        TextColumn("{task.fields[records]}"),
        TextColumn("{task.fields[counters]}"),
        TextColumn("{task.fields[eta]}"),
        console=Console(file=err),
        auto_refresh=False,
        expand=True,
    )
    return _Bar(progress, total)


def open_display(err: TextIO, total: int | None, *, interval: float) -> Display:
    """A rich bar when ``err`` is a terminal and rich is installed, else plain lines."""
    bar = _rich_bar(err, total) if err.isatty() else None
    return bar if bar is not None else _Lines(err, interval)


class Ticker:
    """A thread showing ``snapshot()`` on ``display`` every ``display.interval`` seconds."""

    def __init__(self, display: Display, snapshot: Callable[[], Snapshot]) -> None:
        self._display = display
        self._snapshot = snapshot
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="smr-progress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._display.interval):
            try:
                self._display.show(self._snapshot())
            except (OSError, ValueError):  # standard error is full or closed: show nothing more
                return

    def close(self, *, final: bool = True) -> None:
        """Stop the thread, then the display; ``final``: the bar shows the last snapshot.

        Not ``final`` (quitting at once), the thread gets a second at most: standard
        error may be a pipe nobody reads.
        """
        self._stop.set()
        self._thread.join(None if final else 1.0)
        if self._thread.is_alive():
            return
        try:
            if final and isinstance(self._display, _Bar):
                self._display.show(self._snapshot())
            self._display.close()
        except (OSError, ValueError):
            pass
