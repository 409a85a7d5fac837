"""The pytest plugin (entry point ``pytest11``): the ``local_runtime`` fixture.

pytest loads this module in every test run of every project that installs the package,
so it imports nothing heavy: the server is imported inside the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ._runtime import LocalRuntime


@pytest.fixture
def local_runtime() -> Iterator[LocalRuntime]:
    """A started :class:`~typed_sagemaker_runtime.testing.LocalRuntime`, stopped after the test."""
    from ._runtime import LocalRuntime

    with LocalRuntime() as runtime:
        yield runtime
