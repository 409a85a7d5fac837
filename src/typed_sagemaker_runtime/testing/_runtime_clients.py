"""The clients of a ``LocalRuntime``: boto3's, the library's sync and asyncio ones, S3's.

A mixin of ``LocalRuntime`` (its methods are documented as the runtime's), so that the
runtime's module keeps to serving.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._boto import dummy_aio_session, dummy_session

if TYPE_CHECKING:
    from botocore.config import Config
    from types_boto3_s3.client import S3Client
    from types_boto3_sagemaker_runtime.client import SageMakerRuntimeClient

    from .._aio._client import AsyncSageMakerRuntime
    from .._core._retry import RetryPolicy
    from .._sync._client import SageMakerRuntime
    from ._async_inference._s3 import LocalS3
    from ._server._bidi_listener import BidiListener

__all__ = ["RuntimeClients"]


class RuntimeClients:
    """Clients wired to a running ``LocalRuntime`` (dummy credentials, its region and URLs)."""

    _region_name: str
    _s3: LocalS3
    _bidi: BidiListener | None

    @property
    def endpoint_url(self) -> str:
        """The runtime's URL (``LocalRuntime.endpoint_url``)."""
        raise NotImplementedError

    # --- S3 -----------------------------------------------------------------------------

    @property
    def s3_endpoint_url(self) -> str:
        """The S3 that async inference uses; starts moto's server on first use.

        Raises ``RuntimeError`` naming the ``local`` extra when moto is not installed and no
        ``s3_endpoint_url`` was given.
        """
        return self._s3.endpoint_url()

    def s3_client(self, config: Config | None = None) -> S3Client:
        """A boto3 S3 client for :attr:`s3_endpoint_url` (dummy credentials); close it when done.

        Create buckets and upload inputs with it (``s3.create_bucket(Bucket="in")``).
        """
        return self._s3.client(config)

    # --- clients ----------------------------------------------------------------------

    def boto3_client(self, config: Config | None = None) -> SageMakerRuntimeClient:
        """A plain boto3 ``sagemaker-runtime`` client for this runtime (dummy credentials)."""
        # Typed through Any: boto3-stubs' overloads for services whose stubs are not
        # installed are partially unknown.
        factory: Any = dummy_session(self._region_name)
        client: SageMakerRuntimeClient = factory.client(
            "sagemaker-runtime", endpoint_url=self.endpoint_url, config=config
        )
        return client

    def _ca_bundle_or_none(self) -> str | None:
        return None if self._bidi is None else self._bidi.ca_bundle

    def client(
        self, config: Config | None = None, retry: RetryPolicy | None = None
    ) -> SageMakerRuntime:
        """A :class:`~typed_sagemaker_runtime.SageMakerRuntime` facade wired to this runtime.

        Dummy credentials, this runtime's region and URL; ``config`` and ``retry`` are
        passed on when given. Its ``bidi_stream`` goes to :attr:`bidi_endpoint_url` and
        trusts :attr:`ca_bundle` (the session's ``ca_bundle`` setting). Its S3 client (for
        async results) goes to :attr:`s3_endpoint_url`, started only when first needed.
        Close it (or use ``with``) when done.
        """
        from .._sync._client import SageMakerRuntime

        return SageMakerRuntime(
            session=dummy_session(self._region_name, ca_bundle=self._ca_bundle_or_none()),
            endpoint_url=self.endpoint_url,
            bidi_endpoint_url=None if self._bidi is None else self._bidi.url,
            config=config,
            retry=retry,
            s3_endpoint_url=self._s3.endpoint_url,
        )

    def async_client(
        self, config: Config | None = None, retry: RetryPolicy | None = None
    ) -> AsyncSageMakerRuntime:
        """An :class:`~typed_sagemaker_runtime.AsyncSageMakerRuntime` wired to this runtime.

        The asyncio twin of :meth:`client` (the ``aio`` extra): dummy credentials, this
        runtime's region and URL, S3 at :attr:`s3_endpoint_url`. Use it with ``async with``
        (or ``await smr.aclose()``) inside the event loop that makes the calls.
        """
        from .._aio._client import AsyncSageMakerRuntime

        return AsyncSageMakerRuntime(
            session=dummy_aio_session(self._region_name, ca_bundle=self._ca_bundle_or_none()),
            endpoint_url=self.endpoint_url,
            bidi_endpoint_url=None if self._bidi is None else self._bidi.url,
            config=config,
            retry=retry,
            s3_endpoint_url=self._s3.endpoint_url,
        )
