"""Ctrl-C during ``smr invoke-many``: the first stops sending, the second quits at once.

The handler never raises in the middle of a line being written: a second Ctrl-C that
arrives while a line is written quits right after that line.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

from ._failures import EXIT_INTERRUPTED

__all__ = ["Interrupts"]


class Interrupts:
    """SIGINT handled while the run lasts (a context manager); the old handler restored after.

    ``on_first`` runs at the first Ctrl-C (it must be safe in a signal handler: set flags,
    call ``InvokeMany.stop()``); ``on_quit`` at the second, just before the process exits
    with 130 without waiting for the requests in flight.
    """

    def __init__(self, on_first: Callable[[], None], on_quit: Callable[[], None]) -> None:
        self._on_first = on_first
        self._on_quit = on_quit
        self.interrupted = False
        self._quitting = False
        self._writing = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():  # signals reach it only
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        if not self.interrupted:
            self.interrupted = True
            self._on_first()
            return
        self._quitting = True
        if not self._writing:
            self._quit()

    def _quit(self) -> None:
        try:
            self._on_quit()
            print("smr: interrupted", file=sys.stderr, flush=True)
        finally:
            os._exit(EXIT_INTERRUPTED)  # the requests in flight are not waited for

    def write(self, write_line: Callable[[bytes], None], line: bytes) -> None:
        """``write_line(line)`` with no quitting in the middle of it."""
        self._writing = True
        try:
            write_line(line)
        finally:
            self._writing = False
        if self._quitting:
            self._quit()
