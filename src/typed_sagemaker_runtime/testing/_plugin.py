"""The pytest plugin (entry point ``pytest11``): ``local_runtime`` and ``local_smr`` fixtures.

pytest loads this module in every test run of every project that installs the package,
so it imports nothing heavy: the server is imported inside the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .._sync._client import SageMakerRuntime
    from ._runtime import LocalRuntime


@pytest.fixture
def local_runtime() -> Iterator[LocalRuntime]:
    """A started :class:`~typed_sagemaker_runtime.testing.LocalRuntime`, stopped after the test."""
    from ._runtime import LocalRuntime

    with LocalRuntime() as runtime:
        yield runtime


@pytest.fixture
def local_smr(local_runtime: LocalRuntime) -> Iterator[SageMakerRuntime]:
    """A :class:`~typed_sagemaker_runtime.SageMakerRuntime` wired to ``local_runtime``.

    Add endpoints through ``local_runtime``; the client is closed after the test.
    """
    with local_runtime.client() as client:
        yield client
