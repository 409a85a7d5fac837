"""Sans-I/O decoders of a stream's payload bytes.

Text and lines (``_text``), server-sent events (``_sse``), the generated text of each LLM
server format (``_tokens``: the formats and their decoders' interface; ``_records``: what
each server's JSON records say; ``_framing``: records as SSE events or JSON lines;
``_document``: one streamed JSON document), format detection (``_auto``) and structured
chunks (``_chunks``). Each takes bytes in ``decode()`` and gives what is complete; ``flush()``
ends the input.
"""
