"""Drive a bidirectional-stream backend the way the local endpoint's listener does, without HTTP/2.

The caller feeds request parts from the test thread (:meth:`Caller.send`, :meth:`Caller.end`)
while a thread iterates the backend's output (:meth:`Caller.next`), so a test can wait for
the answer to part 1 before it gives part 2.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

from typed_sagemaker_runtime._core._bidi_events import BidiPayloadPart
from typed_sagemaker_runtime.testing import Headers
from typed_sagemaker_runtime.testing._bidi_model import BidiInvocation, BidiOutput

_END = object()
WAIT = 10.0  # seconds; only a broken backend waits this long


class Caller:
    """One stream: parts in from the test, the backend's outputs collected on a thread."""

    def __init__(self, headers: dict[str, str] | None = None) -> None:
        self._parts: queue.Queue[object] = queue.Queue()
        self._taken = threading.Semaphore(0)
        self._outputs: queue.Queue[object] = queue.Queue()
        self.invocation = BidiInvocation(
            endpoint_name="ep",
            headers=Headers(headers or {}),
            request_id="req-1",
            parts=self._incoming(),
        )

    def _incoming(self) -> Iterator[BidiPayloadPart]:
        while True:
            item = self._parts.get()
            if item is _END:
                return
            assert isinstance(item, BidiPayloadPart)
            self._taken.release()
            yield item

    def wait_taken(self, count: int, timeout: float) -> bool:
        """Whether the backend has taken ``count`` more parts within ``timeout`` seconds."""
        return all(self._taken.acquire(timeout=timeout) for _ in range(count))

    def start(self, outputs: Iterable[BidiOutput]) -> Caller:
        """Iterate ``outputs`` on a thread of its own, as the listener does."""

        def run() -> None:
            try:
                for output in outputs:
                    self._outputs.put(output)
            except BaseException as exc:
                self._outputs.put(exc)
            self._outputs.put(_END)

        threading.Thread(target=run, daemon=True).start()
        return self

    def send(
        self, data: bytes | str, data_type: str | None = None, state: str | None = None
    ) -> None:
        """Give the backend one part (str: UTF8 unless told otherwise)."""
        if isinstance(data, str):
            data, data_type = data.encode(), data_type or "UTF8"
        self._parts.put(BidiPayloadPart(data, data_type, state))

    def end(self) -> None:
        """End the input, as the signed end frame does."""
        self._parts.put(_END)

    def next(self) -> BidiOutput | None:
        """The backend's next output; ``None`` once it has ended."""
        item = self._outputs.get(timeout=WAIT)
        if item is _END:
            return None
        if isinstance(item, BaseException):
            raise item
        return item  # type: ignore[return-value]

    def rest(self) -> list[BidiOutput]:
        """Every output until the backend ends."""
        items: list[BidiOutput] = []
        while (item := self.next()) is not None:
            items.append(item)
        return items
