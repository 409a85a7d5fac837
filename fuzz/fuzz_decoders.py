# ruff: noqa: T201  (a command-line tool: it prints its report)
"""Fuzz the event-stream frame decoder and every payload decoder.

Coverage-guided, with atheris (``pip install atheris``; libFuzzer options pass through)::

    mkdir -p /tmp/corpus && python fuzz/fuzz_decoders.py --atheris -max_total_time=600 /tmp/corpus

Without atheris, a plain loop of random and mutated inputs (seeded from valid streams)::

    python fuzz/fuzz_decoders.py --short            # 20 s, as CI runs it
    python fuzz/fuzz_decoders.py --seconds 600 --seed 7

Each input picks a decoder (the frame decoder, or a payload decoder: UTF-8, lines, SSE,
every token format and content type), then the rest is fed whole, cut in pieces of a size
taken from the input, and byte by byte. It fails (an uncaught exception: atheris reports
a crash, the loop prints the input and exits 1) when a decoder raises anything but
``StreamDecodeError``/``GenerationError``, when the outcome depends on how the input
was cut, or when one input takes longer than ``SLOW_SECONDS`` (work that is not linear).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any

try:
    import atheris
except ImportError:  # the plain loop needs nothing but the library
    atheris = None

if atheris is not None and "--atheris" in sys.argv:
    with atheris.instrument_imports():
        from typed_sagemaker_runtime import GenerationError, PayloadPart, StreamDecodeError
        from typed_sagemaker_runtime._core._eventstream import EventDecoder, encode_event
        from typed_sagemaker_runtime._decoders._auto import (
            LineDecoder,
            SSEDecoder,
            Utf8Decoder,
            token_decoder,
        )
else:
    from typed_sagemaker_runtime import GenerationError, PayloadPart, StreamDecodeError
    from typed_sagemaker_runtime._core._eventstream import EventDecoder, encode_event
    from typed_sagemaker_runtime._decoders._auto import (
        LineDecoder,
        SSEDecoder,
        Utf8Decoder,
        token_decoder,
    )

SLOW_SECONDS = 2.0
MAX_INPUT = 64 * 1024


class Frames:
    """The frame decoder behind the payload decoders' ``feed``/``flush`` shape."""

    def __init__(self) -> None:
        self._decoder = EventDecoder()

    def feed(self, data: bytes) -> list[Any]:
        return self._decoder.feed(data)

    def flush(self) -> list[Any]:
        self._decoder.finish()
        return []


def _tokens(format: Any, content_type: str | None, limit: int | None = None) -> Callable[[], Any]:
    if limit is None:
        return lambda: token_decoder(format, content_type)
    return lambda: token_decoder(format, content_type, max_line_bytes=limit)


TARGETS: list[tuple[str, Callable[[], Any], bool]] = [  # (name, factory, join the output)
    ("frames", Frames, False),
    ("utf8", Utf8Decoder, True),
    ("lines", LineDecoder, False),
    ("lines-capped", lambda: LineDecoder(max_line_bytes=16), False),
    ("sse", SSEDecoder, False),
    *(
        (f"tokens-{fmt}", _tokens(fmt, None), fmt in ("json", "text"))
        for fmt in ("tgi", "openai", "lmi", "json", "text")
    ),
    *(
        (f"tokens-auto-{ct}", _tokens("auto", ct), True)
        for ct in (None, "text/event-stream", "application/jsonlines", "application/json")
    ),
    ("tokens-auto-capped", _tokens("auto", None, 32), True),
]


def outcome(factory: Callable[[], Any], pieces: list[bytes], joined: bool) -> tuple[Any, ...]:
    decoder = factory()
    out: list[Any] = []
    try:
        for piece in pieces:
            out.extend(decoder.feed(piece))
        out.extend(decoder.flush())
    except (StreamDecodeError, GenerationError) as exc:
        return ("".join(out) if joined else out), type(exc).__name__, str(exc)
    return ("".join(out) if joined else out), None, None


def test_one_input(data: bytes) -> None:
    """The fuzz target: decode ``data[2:]`` with the decoder ``data[0]`` picks."""
    if len(data) < 2:
        return
    name, factory, joined = TARGETS[data[0] % len(TARGETS)]
    size = data[1] % 64 + 1
    body = data[2 : 2 + MAX_INPUT]
    started = time.perf_counter()
    whole = outcome(factory, [body], joined)
    pieces = outcome(factory, [body[at : at + size] for at in range(0, len(body), size)], joined)
    bytewise = outcome(factory, [body[at : at + 1] for at in range(len(body))], joined)
    elapsed = time.perf_counter() - started
    if not whole == pieces == bytewise:
        raise AssertionError(f"{name}: the outcome depends on the cutting (size {size})")
    if elapsed > SLOW_SECONDS:
        raise AssertionError(f"{name}: {len(body)} bytes took {elapsed:.1f} s")


# --- the plain loop --------------------------------------------------------------------------


def _tgi(index: int, text: str) -> bytes:
    record = {"index": index, "token": {"id": index, "text": text, "special": False}}
    return b"data: " + json.dumps(record).encode() + b"\n\n"


SEEDS: list[bytes] = [
    b"".join(_tgi(i, f" t{i}") for i in range(8)) + b"data: [DONE]\n\n",
    b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n',
    b'{"token":{"text":"a"}}\n{"outputs":["b"]}\n',
    b'{"generated_text": "caf\\u00e9 \\ud83d\\ude00 done"}',
    b'event: error\ndata: {"error":"overloaded","error_type":"overloaded"}\n\n',
    ": keep-alive\r\n\r\nid: 1\r\nretry: 10\r\ndata: é😀\r\n\r\n".encode(),
    b"".join(encode_event(PayloadPart(_tgi(i, " x"))) for i in range(4)),
]
TOKENS = [b"data:", b"\n", b"\r", b"{", b"}", b'"', b"\\", b"\\u", b"\xff", b"\xf0\x9f", b"\x00"]


def mutate(rng: random.Random, data: bytes) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        choice = rng.random()
        at = rng.randint(0, len(buffer))
        if choice < 0.3 and buffer:
            buffer[min(at, len(buffer) - 1)] = rng.randrange(256)
        elif choice < 0.5:
            buffer[at:at] = rng.choice(TOKENS)
        elif choice < 0.7 and buffer:
            del buffer[at : at + rng.randint(1, 16)]
        elif choice < 0.85:
            other = rng.choice(SEEDS)
            start = rng.randint(0, len(other))
            buffer[at:at] = other[start : start + rng.randint(1, 64)]
        else:
            buffer[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(buffer)


def loop(seconds: float, seed: int) -> int:
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    runs = 0
    while time.monotonic() < deadline:
        head = bytes([rng.randrange(len(TARGETS)), rng.randrange(64)])
        if rng.random() < 0.2:
            body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        else:
            body = mutate(rng, rng.choice(SEEDS))
            if head[0] == 0 and rng.random() < 0.5:  # the frame decoder: frame the mutant
                body = encode_event(PayloadPart(body)) + mutate(rng, rng.choice(SEEDS[-1:]))
        data = head + body
        try:
            test_one_input(data)
        except Exception:
            print(f"FAILED on input {data!r}", file=sys.stderr)
            raise
        runs += 1
    print(f"fuzz: {runs:,} inputs in {seconds:.0f} s over {len(TARGETS)} decoders, no failure")
    return 0


def main() -> int:
    if "--atheris" in sys.argv:
        if atheris is None:
            print("atheris is not installed: pip install atheris", file=sys.stderr)
            return 2
        argv = [arg for arg in sys.argv if arg != "--atheris"]
        atheris.Setup(argv, test_one_input)
        atheris.Fuzz()
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--short", action="store_true", help="20 s, for CI")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"fuzz: seed {seed}")
    return loop(20.0 if args.short else args.seconds, seed)


if __name__ == "__main__":
    sys.exit(main())
