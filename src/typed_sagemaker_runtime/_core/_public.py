"""``public``: a class of the package's ``__all__`` names the package in reprs and tracebacks.

Applied where each public class is defined (as a class decorator), so the class reads
``typed_sagemaker_runtime.SageMakerRuntime`` however its module was first imported (the
package's lazy lookup, a client loading its stream module, ``testing``, the CLI), and no
module has to reach back up into the package root to say so. A leaf: it imports nothing
of the package.
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["PACKAGE", "public"]

PACKAGE = __name__.partition(".")[0]
"""The import name of the package: ``typed_sagemaker_runtime``."""

_C = TypeVar("_C", bound=type)


def public(cls: _C) -> _C:
    """Name the package root as ``cls``'s module; return ``cls`` (a class decorator)."""
    cls.__module__ = PACKAGE
    return cls
