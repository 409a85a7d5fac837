"""A case-insensitive, read-only mapping of HTTP headers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import cast

__all__ = ["Headers"]

# Values that must never appear in a repr: they may carry secrets or user data.
_SENSITIVE = frozenset(
    {
        "authorization",
        "x-amz-security-token",
        "x-amzn-sagemaker-custom-attributes",
    }
)


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only HTTP headers as received by the local endpoint.

    Lookups ignore case (``headers["content-type"] == headers["Content-Type"]``); iteration
    yields the names as they were sent. A header sent more than once is joined with ``", "``.
    The repr hides the values of ``Authorization``, ``X-Amz-Security-Token`` and
    ``X-Amzn-SageMaker-Custom-Attributes``.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        if isinstance(items, Mapping):
            items = cast("Mapping[str, str]", items).items()
        store: dict[str, tuple[str, str]] = {}
        for name, value in items:
            key = name.lower()
            seen = store.get(key)
            store[key] = (name, value) if seen is None else (seen[0], f"{seen[1]}, {value}")
        self._items = store

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        shown = {
            name: "<redacted>" if key in _SENSITIVE else value
            for key, (name, value) in self._items.items()
        }
        return f"Headers({shown!r})"
