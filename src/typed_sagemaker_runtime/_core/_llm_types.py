"""The LLM layer's types: what a stream says about its text, and the typed request shapes.

Results (:class:`GenerationChunk`, :class:`Generation`, :class:`ToolCall`,
:class:`ToolCallDelta`, :class:`Usage`) are what ``chunks()``, ``generation()``,
``chat()`` and ``generate()`` return. Requests (:class:`ChatMessage`,
:class:`ToolSpec`, :class:`GenerateParameters`) are TypedDicts, so a misspelt role
or parameter is a type error, and users can type their own ``json=`` payloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from typing_extensions import NotRequired, Required, TypedDict

from ._public import public

__all__ = [
    "ToolCallDelta",
    "ToolCall",
    "Usage",
    "GenerationChunk",
    "Generation",
    "Role",
    "ChatMessage",
    "TextPart",
    "ImageURL",
    "ImagePart",
    "ContentPart",
    "FunctionCall",
    "ChatToolCall",
    "FunctionSpec",
    "ToolSpec",
    "ToolChoice",
    "ToolChoiceFunction",
    "GenerateParameters",
]


# --- What the server said -------------------------------------------------------------


@public
@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """One fragment of a tool call, as OpenAI-style streams send it (``delta.tool_calls[]``)."""

    index: int
    """Which tool call of the answer the fragment belongs to (fragments share it)."""
    id: str | None
    """The call's id, usually on the first fragment only."""
    name: str | None
    """The function name, usually on the first fragment only."""
    arguments: str
    """A piece of the JSON arguments text (``""`` when the fragment carries none)."""

    def __repr__(self) -> str:
        return (
            f"ToolCallDelta(index={self.index}, id={self.id!r}, name={self.name!r}, "
            f"arguments=<{len(self.arguments)} chars>)"
        )


@public
@dataclass(frozen=True, slots=True)
class ToolCall:
    """A whole tool call: the fragments of one ``index`` joined."""

    index: int
    """The position of the call in the answer."""
    id: str | None
    """The call's id, to quote in the ``tool`` message that answers it."""
    name: str
    """The function to call."""
    arguments: str
    """The arguments as JSON text, exactly as the model wrote them (it may be invalid JSON)."""

    def __repr__(self) -> str:
        return (
            f"ToolCall(index={self.index}, id={self.id!r}, name={self.name!r}, "
            f"arguments=<{len(self.arguments)} chars>)"
        )


@public
class Usage(TypedDict):
    """Token counts the server reported; a count it did not report is ``None``."""

    prompt_tokens: int | None
    """Tokens of the prompt (TGI's ``input_length``)."""
    completion_tokens: int | None
    """Tokens generated (TGI/LMI's ``generated_tokens``)."""
    total_tokens: int | None
    """Both together."""


@public
@dataclass(frozen=True, slots=True)
class GenerationChunk:
    """What one record of an LLM stream carried: text, why it stopped, usage, tool calls."""

    text: str
    """The text delta; ``""`` when the record carried no text (finish, usage, tool calls)."""
    finish_reason: str | None
    """Why generation stopped, exactly as the server sent it (``"stop"``, ``"length"``,
    ``"eos_token"``, ``"tool_calls"``, ...); ``None`` until the last record."""
    usage: Usage | None
    """Token counts, when the record reported them."""
    tool_calls: tuple[ToolCallDelta, ...]
    """Tool-call fragments of the record (OpenAI-style ``delta.tool_calls``)."""
    index: int
    """The choice index; 0 for single-choice servers."""
    token_id: int | None = None
    """The token's id, for token records (TGI, LMI) that carry one."""
    logprob: float | None = None
    """The token's log-probability, for token records that carry one."""

    def __repr__(self) -> str:
        # Model output may be sensitive or huge: show its size, not the text.
        return (
            f"GenerationChunk(text=<{len(self.text)} chars>, "
            f"finish_reason={self.finish_reason!r}, usage={self.usage!r}, "
            f"tool_calls=<{len(self.tool_calls)}>, index={self.index})"
        )


@public
@dataclass(frozen=True, slots=True)
class Generation:
    """A whole answer: its text, why it stopped, what it cost, its tool calls and timing."""

    text: str
    """All text of choice 0, special tokens excluded."""
    finish_reason: str | None
    """Why generation stopped, as the server sent it; ``None`` if it never said."""
    usage: Usage | None
    """The last usage the server reported."""
    tool_calls: tuple[ToolCall, ...]
    """Tool calls with their fragments joined per index, in index order."""
    time_to_first_token: float | None
    """Seconds until the first text arrived; ``None`` when no text came."""
    duration: float
    """Seconds until the end of the response."""

    def __repr__(self) -> str:
        return (
            f"Generation(text=<{len(self.text)} chars>, finish_reason={self.finish_reason!r}, "
            f"usage={self.usage!r}, tool_calls=<{len(self.tool_calls)}>, "
            f"time_to_first_token={self.time_to_first_token!r}, duration={self.duration!r})"
        )


# --- Requests ---------------------------------------------------------------------------

Role: TypeAlias = Literal["system", "user", "assistant", "tool", "developer"]
"""The author of a chat message."""


@public
class TextPart(TypedDict):
    """A text part of a message's content."""

    type: Literal["text"]
    """Always ``"text"``."""
    text: str
    """The text."""


@public
class ImageURL(TypedDict):
    """Where an image part's image is: an ``https:`` or ``data:`` URL."""

    url: str
    """The URL."""
    detail: NotRequired[Literal["auto", "low", "high"]]
    """How closely the model should look (OpenAI's hint; servers may ignore it)."""


@public
class ImagePart(TypedDict):
    """An image part of a message's content, for vision models."""

    type: Literal["image_url"]
    """Always ``"image_url"``."""
    image_url: ImageURL
    """The image."""


ContentPart: TypeAlias = TextPart | ImagePart
"""A part of a message's content."""


@public
class FunctionCall(TypedDict):
    """The function an assistant message called, with its arguments as JSON text."""

    name: str
    """The function's name."""
    arguments: str
    """The arguments as JSON text."""


@public
class ChatToolCall(TypedDict):
    """A tool call of an assistant message in the history (OpenAI's shape)."""

    id: str
    """The call's id; the ``tool`` message answering it quotes it as ``tool_call_id``."""
    type: Literal["function"]
    """Always ``"function"``."""
    function: FunctionCall
    """The function called."""


@public
class ChatMessage(TypedDict, total=False):
    """One message of a chat conversation (OpenAI Messages API)."""

    role: Required[Role]
    """Who wrote it: ``"system"``, ``"user"``, ``"assistant"``, ``"tool"`` or ``"developer"``."""
    content: str | list[ContentPart] | None
    """The text, or a list of parts; ``None`` for an assistant message with tool calls only."""
    name: str
    """An optional name for the author."""
    tool_calls: list[ChatToolCall]
    """The tool calls an assistant message made."""
    tool_call_id: str
    """For a ``tool`` message: the id of the call it answers."""


@public
class FunctionSpec(TypedDict, total=False):
    """A function the model may call: its name, what it does and its JSON Schema."""

    name: Required[str]
    """The function's name."""
    description: str
    """What it does, for the model."""
    parameters: dict[str, object]
    """The JSON Schema of its arguments."""
    strict: bool
    """Ask the server to follow the schema exactly (where supported)."""


@public
class ToolSpec(TypedDict):
    """A tool the model may call (an OpenAI function tool)."""

    type: Literal["function"]
    """Always ``"function"``."""
    function: FunctionSpec
    """The function."""


@public
class ToolChoiceFunction(TypedDict):
    """Names the function of a forced tool choice."""

    name: str
    """The function's name."""


@public
class ToolChoice(TypedDict):
    """Force a call of one function."""

    type: Literal["function"]
    """Always ``"function"``."""
    function: ToolChoiceFunction
    """The function to call."""


@public
class GenerateParameters(TypedDict, total=False):
    """The ``parameters`` of a TGI/LMI ``{"inputs", "parameters"}`` request."""

    max_new_tokens: int
    """The most tokens to generate."""
    temperature: float
    """Sampling temperature."""
    top_p: float
    """Nucleus sampling: keep the most likely tokens up to this probability mass."""
    top_k: int
    """Keep only the ``top_k`` most likely tokens."""
    typical_p: float
    """Typical decoding mass."""
    repetition_penalty: float
    """Penalty for repeated tokens (1.0: none)."""
    frequency_penalty: float
    """Penalty proportional to how often a token already appeared."""
    stop: list[str]
    """Stop generating at any of these sequences."""
    do_sample: bool
    """Sample instead of greedy decoding."""
    seed: int
    """Random seed for sampling."""
    details: bool
    """Ask for ``details`` (finish reason, token counts) in the response."""
    return_full_text: bool
    """Prepend the prompt to the generated text."""
    truncate: int
    """Keep only the last ``truncate`` tokens of the prompt."""
    watermark: bool
    """Watermark the output (TGI)."""
    decoder_input_details: bool
    """Return the prompt's tokens in ``details`` (TGI)."""
    top_n_tokens: int
    """Return the ``top_n_tokens`` most likely tokens at each step (TGI)."""
    best_of: int
    """Generate this many sequences and return the best (TGI)."""
    grammar: dict[str, object]
    """Constrain the output: ``{"type": "json", "value": <schema>}`` or a regex (TGI)."""
    adapter_id: str
    """The LoRA adapter to use (TGI/LMI multi-LoRA)."""
