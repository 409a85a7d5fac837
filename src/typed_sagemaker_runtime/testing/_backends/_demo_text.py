"""The demo LLM's text: a built-in corpus, a tokenizer, and the tokens it generates.

No weights, no download: the "model" picks sentences from a small built-in corpus, seeded
by a hash of the prompt, and emits them word by word. The corpus holds accented Latin,
an emoji and CJK text, so multi-byte UTF-8 crosses every part boundary a client may see.
A tool call's arguments are made up from the function's JSON Schema and the prompt.
"""

from __future__ import annotations

import hashlib
import random
import re
import zlib
from dataclasses import dataclass
from typing import cast

__all__ = ["Token", "ToolCall", "example", "generate_tokens", "tokenize", "tool_tokens"]

_CORPUS = (
    "SageMaker streams the response while the model is still writing it.",
    "Each token travels as a server-sent event inside a PayloadPart.",
    "A naïve client cuts bytes in the middle of a character.",
    "The café on the corner serves crème brûlée to every résumé reviewer.",
    "Streaming makes a slow model feel fast 🚀.",
    "A token is a word, a piece of a word, or a single character.",
    "日本語の文章も一文字ずつ届きます。",
    "流式输出让等待变得更短。",
    "Testing locally costs nothing and needs no GPU ✨.",
    "The last token is special and carries the whole generated text.",
    "Ünïcödé text has to survive every chunk boundary.",
    "Local endpoints keep integration tests fast and deterministic.",
)
_CJK = "\u3000-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef"
_TOKEN = re.compile(rf"\s*(?:[{_CJK}]|[^\s\W{_CJK}]+|[^\s\w])")
_EOS_ID = 2
_EOS_TEXT = "</s>"


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    text: str
    logprob: float
    special: bool

    def wire(self) -> dict[str, object]:
        return {"id": self.id, "text": self.text, "logprob": self.logprob, "special": self.special}


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The call the demo makes when a chat request offers tools."""

    id: str
    name: str
    arguments: str

    def fragments(self) -> list[str]:
        """The arguments cut into pieces, as vLLM and TGI stream them."""
        text = self.arguments
        size = max(1, -(-len(text) // 4))
        return [text[at : at + size] for at in range(0, len(text), size)] or [""]


_ARGUMENT_WORDS = ("Zürich", "Paris", "東京", "celsius", "today", "demo")


def example(schema: object, prompt: str, byte: int) -> object:
    """A value of the JSON Schema type ``schema`` names (a string otherwise).

    Strings are the first demo word the prompt mentions ("Paris" for "Rain in Paris?"),
    else one picked by ``byte``: the same request always gets the same arguments, on
    every Python version.
    """
    kind = cast("dict[str, object]", schema).get("type") if isinstance(schema, dict) else None
    if kind in ("integer", "number"):
        return 1 + byte % 30
    if kind == "boolean":
        return True
    lowered = prompt.casefold()
    word = next(
        (word for word in _ARGUMENT_WORDS if word.casefold() in lowered),
        _ARGUMENT_WORDS[byte % len(_ARGUMENT_WORDS)],
    )
    return [word] if kind == "array" else word


def generate_tokens(prompt: str, max_new_tokens: int, seed: int | None) -> list[Token]:
    """The generated tokens, the end token included when the text ends in budget."""
    digest = hashlib.sha256(f"{seed}\0{prompt}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    sentences = rng.sample(_CORPUS, rng.randint(2, 4))
    words = tokenize(" ".join(sentences))
    tokens = [
        Token(
            id=1000 + zlib.crc32(word.encode()) % 31000,
            text=word,
            logprob=-round(rng.random() * 1.5, 8),
            special=False,
        )
        for word in words
    ]
    tokens.append(Token(_EOS_ID, _EOS_TEXT, -round(rng.random() * 0.1, 8), special=True))
    return tokens[:max_new_tokens]


def tool_tokens(tool: ToolCall, max_new_tokens: int) -> list[Token]:
    """The arguments' fragments as tokens; the end token follows when they fit."""
    tokens = [
        Token(1000 + zlib.crc32(piece.encode()) % 31000, piece, -0.01, special=False)
        for piece in tool.fragments()
    ]
    tokens.append(Token(_EOS_ID, _EOS_TEXT, -0.01, special=True))
    return tokens[:max_new_tokens]
