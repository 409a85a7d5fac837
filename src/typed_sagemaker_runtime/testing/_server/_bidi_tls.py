"""The bidirectional listener's TLS: a certificate authority and certificate made at start.

awscrt speaks HTTP/2 only over TLS with ALPN ``h2`` (docs ``bidi-protocol.md`` section 3),
so the local endpoint needs a certificate its clients trust. :class:`ListenerCertificate`
makes a throwaway authority and a certificate for ``localhost``, ``127.0.0.1``, ``::1`` and
the host the listener is bound to (trustme), writes the authority's PEM file to a private
temporary directory (:attr:`ListenerCertificate.ca_bundle`) and removes it on
:meth:`ListenerCertificate.remove`.
"""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import tempfile
from pathlib import Path

import trustme

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_WILDCARDS = ("", "0.0.0.0", "::")


def client_host(host: str) -> str:
    """The name clients dial for a listener bound to ``host`` (bracketed when IPv6).

    Loopback and wildcard addresses are reached as ``localhost``, as awscrt dials it.
    """
    if host in _WILDCARDS or host in _LOOPBACK_NAMES:
        return "localhost"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    return f"[{host}]" if address.version == 6 else host


class ListenerCertificate:
    """A certificate authority and a server certificate for ``host``, in a private directory."""

    def __init__(self, host: str) -> None:
        self._directory = Path(tempfile.mkdtemp(prefix="smr-bidi-"))
        names: list[str] = list(_LOOPBACK_NAMES)
        if host not in _WILDCARDS and host not in names:
            names.append(host)
        try:
            authority = trustme.CA()
            certificate = authority.issue_cert(*names)
            authority.cert_pem.write_to_path(self.ca_bundle)
            key_and_chain = str(self._directory / "server.pem")
            certificate.private_key_and_cert_chain_pem.write_to_path(key_and_chain)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.set_alpn_protocols(["h2"])
            context.load_cert_chain(key_and_chain)
        except BaseException:
            self.remove()
            raise
        self.context = context
        """The server-side TLS context (ALPN ``h2`` only)."""

    @property
    def ca_bundle(self) -> str:
        """The PEM file of the authority that signed the certificate."""
        return str(self._directory / "ca.pem")

    def remove(self) -> None:
        """Delete the files; the context in memory keeps working."""
        shutil.rmtree(self._directory, ignore_errors=True)
