"""The token formats, the interface of their decoders, and the ``text`` format.

:meth:`ResponseStream.tokens` yields the generated-text deltas of the records LLM
servers write into a response stream. Each format is decoded in its own module:

* ``tgi``, ``openai``, ``lmi``: JSON records, one per SSE event or per line. What
  each record says is read in ``_records`` (one reader per server family, and the
  error records); the SSE or JSON-lines framing is split in ``_framing``.
* ``json``: one JSON document streamed without framing, parsed in ``_document``.
* ``text``: the payload is the text (:class:`TextTokenDecoder`, here).
* ``auto``: detection and the :func:`token_decoder` factory, in ``_auto``.

A new format gets its name in :data:`TokenFormat` and in ``_auto``; a new record
shape gets a reader in ``_records``. See ``docs/stream-formats.md`` for what each
server writes.
"""

from __future__ import annotations

from typing import Literal, Protocol

from ._text import Utf8Decoder

__all__ = ["TokenFormat", "Framing", "TokenDecoder", "TextTokenDecoder"]

TokenFormat = Literal["auto", "tgi", "openai", "lmi", "json", "text"]
"""The payload formats :meth:`ResponseStream.tokens` reads (``"auto"`` picks one)."""

Framing = Literal["sse", "jsonl"]
"""How a stream of records is framed: server-sent events or JSON lines."""


class TokenDecoder(Protocol):
    """A sans-I/O decoder from payload bytes to generated-text deltas."""

    @property
    def format(self) -> TokenFormat:
        """The format being decoded; ``"auto"`` while an auto decoder has not decided."""
        ...

    @property
    def buffered(self) -> int:
        """How much input (bytes or characters) is held back for later feeds."""
        ...

    def feed(self, data: bytes) -> list[str]:
        """Decode more payload bytes; return the text deltas now complete (never ``""``)."""
        ...

    def flush(self) -> list[str]:
        """Signal the end of the stream; return what was held back."""
        ...


class TextTokenDecoder(Utf8Decoder):
    """``text``: the payload is the generated text, as strict incremental UTF-8."""

    __slots__ = ()

    @property
    def format(self) -> TokenFormat:
        """Always ``"text"``."""
        return "text"
