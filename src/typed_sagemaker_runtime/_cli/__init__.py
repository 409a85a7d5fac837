"""The ``smr`` command line: ``_main`` parses and dispatches; one module per subcommand.

``main`` is the console script's entry point (``typed_sagemaker_runtime._cli:main``),
loaded on first use so that ``python -m typed_sagemaker_runtime._cli._serve`` finds its
module not yet imported; ``python -m typed_sagemaker_runtime._cli`` runs it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._main import main

__all__ = ["main"]


def __getattr__(name: str) -> object:
    if name == "main":
        from ._main import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
