"""boto3 sessions for clients of a local runtime: dummy credentials, one shared model loader.

A fresh ``boto3.session.Session`` parses botocore's endpoint and service JSON files again,
about 40 ms per client. Test suites build a client per test, so the sessions made here
share one data loader (its cache holds only botocore's bundled data files, never
credentials or configuration), which makes a client about 6 ms.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import boto3.session
    from aiobotocore.session import AioSession
    from botocore.loaders import Loader

DUMMY_KEY = "testing"

_lock = threading.Lock()


@functools.cache
def _shared_loader() -> Loader:
    import botocore.loaders

    return botocore.loaders.create_loader()


def dummy_session(region_name: str, ca_bundle: str | None = None) -> boto3.session.Session:
    """A boto3 session with dummy credentials; it can never reach AWS with them.

    ``ca_bundle`` sets the profile setting of that name: its clients trust that authority
    (the local endpoint's HTTP/2 listener) as if ``verify=ca_bundle`` had been passed.
    """
    import boto3.session
    import botocore.session

    loader = _shared_loader()
    core = botocore.session.Session()
    core.register_component("data_loader", loader)
    if ca_bundle is not None:
        core.set_config_variable("ca_bundle", ca_bundle)
    session = boto3.session.Session(
        botocore_session=core,
        aws_access_key_id=DUMMY_KEY,
        aws_secret_access_key=DUMMY_KEY,
        region_name=region_name,
    )
    # boto3 appends its own data directory to the loader's search path for every session.
    with _lock:
        paths = loader.search_paths
        unique = list(dict.fromkeys(paths))
        if len(unique) != len(paths):
            paths[:] = unique
    return session


def dummy_aio_session(region_name: str, ca_bundle: str | None = None) -> AioSession:
    """An aiobotocore session with dummy credentials (the ``aio`` extra); ``ca_bundle`` as in
    :func:`dummy_session`."""
    from aiobotocore.session import AioSession

    session = AioSession()
    session.register_component("data_loader", _shared_loader())
    session.set_credentials(DUMMY_KEY, DUMMY_KEY)
    session.set_config_variable("region", region_name)
    if ca_bundle is not None:
        session.set_config_variable("ca_bundle", ca_bundle)
    return session
