"""OpenTelemetry's API, imported once at the first call, and its global providers.

:func:`load_api` gives ``None`` when the ``opentelemetry`` package is missing; the global
providers are read without the cost of the API's getters while none is set.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

__all__ = ["OtelApi", "global_provider", "load_api", "unset_meter_providers"]


class OtelApi:
    """The OpenTelemetry API modules, imported once."""

    def __init__(self) -> None:
        from opentelemetry import context, metrics, trace

        self.context = context
        self.metrics = metrics
        self.trace = trace
        self.unset_tracer_providers = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
        self.unset_meter_providers = unset_meter_providers(metrics)
        # Providers named by the environment are loaded by the API's getters (read once).
        self.tracer_from_env = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ
        self.meter_from_env = "OTEL_PYTHON_METER_PROVIDER" in os.environ

    def tracer_provider(self) -> Any:
        """The global tracer provider; ``None`` when none was set."""
        get = self.trace.get_tracer_provider
        return (
            get() if self.tracer_from_env else global_provider(self.trace, "_TRACER_PROVIDER", get)
        )

    def meter_provider(self) -> Any:
        """The global meter provider; ``None`` when none was set."""
        get = self.metrics.get_meter_provider
        if self.meter_from_env:
            return get()
        return global_provider(getattr(self.metrics, "_internal", None), "_METER_PROVIDER", get)


def global_provider(module: object, name: str, get: Callable[[], object]) -> object:
    """A global provider of OpenTelemetry's API, read cheaply; ``None`` when none was set.

    While no provider is set, the API's ``get_tracer_provider()`` / ``get_meter_provider()``
    look an environment variable up on every call (about a microsecond): too much for
    every call of an uninstrumented application. This reads the private module global
    they return (``_TRACER_PROVIDER`` / ``_METER_PROVIDER``, ``None`` until set) and
    calls the getter only when that name is gone (another API version).
    """
    provider = getattr(module, name, get)
    return get() if provider is get else provider


def unset_meter_providers(metrics: Any) -> tuple[type, ...]:
    """The meter provider classes that mean "no SDK configured".

    The API's global provider before ``set_meter_provider`` is a private
    ``_ProxyMeterProvider`` (there is no public name, unlike ``ProxyTracerProvider``);
    recording through it does nothing, so a call skips metrics while it is the provider.
    """
    proxy = getattr(metrics, "_internal", None)
    proxy_class = getattr(proxy, "_ProxyMeterProvider", None)
    classes: list[type] = [metrics.NoOpMeterProvider]
    if isinstance(proxy_class, type):
        classes.append(proxy_class)
    return tuple(classes)


_api_state: list[OtelApi | None] = []  # empty until the first import attempt


def load_api() -> OtelApi | None:
    if not _api_state:
        try:
            _api_state.append(OtelApi())
        except ImportError:
            _api_state.append(None)
    return _api_state[0]
