"""The S3 that the local endpoint's async inference reads and writes.

moto's S3 server, started in this process on first use, or any S3 endpoint URL given to
``LocalRuntime(s3_endpoint_url=...)``. Clients sign with dummy credentials, which moto
(and other local S3 emulators) accept.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .._boto import dummy_session

if TYPE_CHECKING:
    from botocore.config import Config
    from types_boto3_s3.client import S3Client

    from ._moto import MotoServer

__all__ = ["MISSING_MOTO", "LocalS3", "S3Unavailable"]

MISSING_MOTO = (
    "asynchronous inference on the local endpoint needs moto's S3 server: "
    "install the 'local' extra (pip install -e '.[local]' in a clone of "
    "typed-sagemaker-runtime, or pip install 'moto[s3]' flask flask-cors), "
    "or pass LocalRuntime(s3_endpoint_url=...)"
)


class S3Unavailable(RuntimeError):
    """No S3 to use: moto is not installed and no ``s3_endpoint_url`` was given."""


class LocalS3:
    """One runtime's S3: where it is, clients for it, and the buckets made so far."""

    def __init__(self, endpoint_url: str | None, *, host: str, region_name: str) -> None:
        self._given_url = endpoint_url
        self._host = host
        self._region_name = region_name
        self._lock = threading.Lock()
        self._moto: MotoServer | None = None
        self._client: Any = None
        self._buckets: set[str] = set()
        self._stopped = False

    @property
    def started(self) -> bool:
        """Whether an S3 endpoint is known (given, or moto's server running)."""
        return self._given_url is not None or self._moto is not None

    def endpoint_url(self) -> str:
        """The S3 endpoint URL; starts moto's server on first use when none was given."""
        if self._given_url is not None:
            return self._given_url
        with self._lock:
            if self._stopped:
                raise RuntimeError("the LocalRuntime is stopped; its S3 server is gone")
            if self._moto is None:
                try:
                    from ._moto import MotoServer
                except ImportError as exc:
                    raise S3Unavailable(MISSING_MOTO) from exc
                self._moto = MotoServer("::1" if self._host == "::1" else "127.0.0.1")
            return self._moto.url

    def client(self, config: Config | None = None) -> S3Client:
        """A new boto3 S3 client for this S3 (dummy credentials); the caller closes it."""
        factory: Any = dummy_session(self._region_name)
        client: S3Client = factory.client("s3", endpoint_url=self.endpoint_url(), config=config)
        return client

    def shared(self) -> S3Client:
        """The runtime's own client (thread-safe), closed by :meth:`stop`."""
        url = self.endpoint_url()
        with self._lock:
            if self._client is None:
                factory: Any = dummy_session(self._region_name)
                self._client = factory.client("s3", endpoint_url=url)
            client: S3Client = self._client
            return client

    def ensure_bucket(self, bucket: str) -> None:
        """Create ``bucket`` unless this runtime made or saw it already."""
        if bucket in self._buckets:
            return
        client = self.shared()
        create: Any = client.create_bucket  # the stubs want a literal region name
        try:
            if self._region_name == "us-east-1":
                create(Bucket=bucket)
            else:
                create(
                    Bucket=bucket,
                    CreateBucketConfiguration={"LocationConstraint": self._region_name},
                )
        except (
            client.exceptions.BucketAlreadyOwnedByYou,
            client.exceptions.BucketAlreadyExists,
        ):
            pass
        self._buckets.add(bucket)

    def stop(self) -> None:
        """Close the runtime's client and stop moto's server, if started; idempotent."""
        with self._lock:
            self._stopped = True
            client, self._client = self._client, None
            moto, self._moto = self._moto, None
        if client is not None:
            client.close()
        if moto is not None:
            moto.stop()
