"""A client's OpenTelemetry instrumentation: :class:`Telemetry` starts the record of each call.

Spans and metrics follow the GenAI client semantic conventions. OpenTelemetry is
optional: its API is imported once, at the first call, and when it is missing, switched
off, or has no SDK configured, :meth:`Telemetry.start` returns :data:`OFF`, whose methods
do nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._core._exceptions import ClientValidationError
from .._version import __version__
from ._call_record import OFF, CallRecord
from ._otel_api import load_api

if TYPE_CHECKING:
    from opentelemetry.metrics import Histogram, MeterProvider
    from opentelemetry.trace import Tracer, TracerProvider

    from ._otel_api import OtelApi

__all__ = ["DISABLE_ENV", "Instruments", "Telemetry"]

DISABLE_ENV = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"
"""OpenTelemetry's list of instrumentations switched off; ``typed_sagemaker_runtime`` in it
(or ``all``) switches this one off."""
NAME = "typed_sagemaker_runtime"

logger = logging.getLogger(NAME)

# The ExplicitBucketBoundaries the conventions give for each histogram.
_SECONDS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
_TOKENS = tuple(float(4**power) for power in range(14))  # 1, 4, 16, ... 67108864


def _disabled_by_env() -> bool:
    names = os.environ.get(DISABLE_ENV, "")
    return any(name.strip() in (NAME, "all") for name in names.split(","))


class Instruments:
    """The three GenAI client histograms of one meter provider."""

    def __init__(self, provider: MeterProvider) -> None:
        meter = provider.get_meter(NAME, __version__)
        self.duration: Histogram = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=_SECONDS,
        )
        self.tokens: Histogram = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=_TOKENS,
        )
        self.first_chunk: Histogram = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk, measured from when the client "
            "issues the generation request to when the first chunk is received in the "
            "response stream.",
            explicit_bucket_boundaries_advisory=_SECONDS,
        )


class Telemetry:
    """A client's instrumentation: providers resolved per call, tracers and meters cached.

    ``tracer_provider`` / ``meter_provider`` default to OpenTelemetry's global ones, read at
    each call (so an SDK configured after the client was built is used).
    """

    __slots__ = ("_enabled", "_instruments", "_meter_provider", "_tracer", "_tracer_provider")

    def __init__(
        self,
        *,
        instrument: bool = True,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        _check_provider("tracer_provider", tracer_provider, "get_tracer")
        _check_provider("meter_provider", meter_provider, "get_meter")
        if not isinstance(instrument, bool):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ClientValidationError(
                f"instrument: must be True or False, got {type(instrument).__name__}",
                field="instrument",
            )
        self._enabled = instrument and not _disabled_by_env()
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._tracer: tuple[object, Tracer] | None = None
        self._instruments: tuple[object, Instruments] | None = None

    @property
    def enabled(self) -> bool:
        """Whether calls may be recorded (not switched off by argument or environment)."""
        return self._enabled

    def start(
        self,
        operation: str,
        endpoint_name: str,
        client: Any,
        *,
        stream: bool = False,
        component: str | None = None,
        request: Mapping[str, object] | None = None,
    ) -> CallRecord:
        """The record of a call about to be made; :data:`OFF` when nothing is recorded.

        ``client`` is the botocore client (its endpoint URL gives ``server.address``);
        ``request`` the chat or generate JSON body, read for the model name and the
        numeric sampling parameters only.
        """
        if not self._enabled:
            return OFF
        api = load_api()
        if api is None:
            return OFF
        try:
            tracer = self._current_tracer(api)
            instruments = self._current_instruments(api)
            if tracer is None and instruments is None:
                return OFF
            from ._otel_record import Recording  # loaded only once something records

            return Recording(
                api,
                tracer,
                instruments,
                operation,
                endpoint_name,
                str(client.meta.endpoint_url),
                stream=stream,
                component=component,
                request=request,
            )
        except Exception:  # instrumentation never fails a call
            logger.debug(
                "OpenTelemetry instrumentation failed; the call is not recorded", exc_info=True
            )
            return OFF

    def _current_tracer(self, api: OtelApi) -> Tracer | None:
        provider: Any = self._tracer_provider or api.tracer_provider()
        if provider is None or isinstance(provider, api.unset_tracer_providers):
            return None
        cached = self._tracer
        if cached is None or cached[0] is not provider:
            tracer = api.trace.get_tracer(NAME, __version__, tracer_provider=provider)
            cached = self._tracer = (provider, tracer)
        return cached[1]

    def _current_instruments(self, api: OtelApi) -> Instruments | None:
        provider: Any = self._meter_provider or api.meter_provider()
        if provider is None or isinstance(provider, api.unset_meter_providers):
            return None
        cached = self._instruments
        if cached is None or cached[0] is not provider:
            cached = self._instruments = (provider, Instruments(provider))
        return cached[1]


def _check_provider(name: str, provider: object, method: str) -> None:
    if provider is not None and not callable(getattr(provider, method, None)):
        raise ClientValidationError(
            f"{name}: expected an OpenTelemetry {name.replace('_', ' ')} (with {method}()), "
            f"got {type(provider).__name__}",
            field=name,
        )
