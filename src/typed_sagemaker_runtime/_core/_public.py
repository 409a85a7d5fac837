"""``public``: a class of the package's ``__all__`` names the package in reprs and tracebacks.

Applied where each public class is defined (as a class decorator), so the class reads
``typed_sagemaker_runtime.SageMakerRuntime`` however its module was first imported (the
package's lazy lookup, a client loading its stream module, ``testing``, the CLI), and no
module has to reach back up into the package root to say so. A leaf: it imports nothing
of the package.
"""

from __future__ import annotations

from types import FunctionType
from typing import ForwardRef, TypeVar

__all__ = ["PACKAGE", "adopt_methods", "public"]

PACKAGE = __name__.rsplit(".", 2)[0]
"""The import name of the package: ``typed_sagemaker_runtime`` (or wherever it is vendored)."""

_C = TypeVar("_C", bound=type)


def public(cls: _C) -> _C:
    """Name the package root as ``cls``'s module; return ``cls`` (a class decorator).

    Its string annotations (``from __future__ import annotations``) are bound to the
    module that defines them, so ``typing.get_type_hints(cls)`` resolves them there
    rather than in the package root, which imports its names lazily.
    """
    defined_in = cls.__module__
    # The class's own dict, changed in place (inspect.get_annotations gives a copy, and
    # importing inspect would cost the root import more than this whole module).
    annotations = cls.__dict__.get("__annotations__")  # noqa: RUF063
    if annotations:
        for name, value in annotations.items():
            if isinstance(value, str):
                annotations[name] = ForwardRef(value, module=defined_in, is_class=True)
    cls.__module__ = PACKAGE
    return cls


def adopt_methods(cls: _C) -> _C:
    """Name the methods ``cls`` inherits from the package's private bases as its own.

    For a public class composed of private mixins (the clients): a call with a wrong
    argument then says ``SageMakerRuntime.chat() missing 1 required positional
    argument``, naming the class the caller used, not the mixin the method is written
    in. Only for bases that no other class of the package composes.
    """
    for base in cls.__mro__[1:]:
        if not base.__module__.startswith(PACKAGE + "."):
            continue
        for name, member in vars(base).items():
            function = member.fget if isinstance(member, property) else member
            if isinstance(function, FunctionType):
                function.__qualname__ = f"{cls.__qualname__}.{name}"
                wrapped = getattr(function, "__wrapped__", None)
                if isinstance(wrapped, FunctionType):  # a decorated method's own errors
                    wrapped.__qualname__ = function.__qualname__
    return cls
