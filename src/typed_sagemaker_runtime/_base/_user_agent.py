"""The User-Agent of clients the facade builds, built once per process, sans-I/O.

botocore builds the same string twice for every request (about a tenth of a facade
call's client CPU on loopback), from values that do not change within a process; a fixed
``Config(user_agent=...)`` skips that. See docs/performance.md.
"""

from __future__ import annotations

import functools
import os
import platform
import re
from typing import Any

from botocore import __version__ as botocore_version
from botocore.config import Config

from .._version import __version__

_FORBIDDEN = re.compile(r"[^A-Za-z0-9!$%&'*+\-.^_`|~,#]")


def unsent_app_id(config: Config, sent: Config) -> str | None:
    """The ``user_agent_appid`` botocore resolved that the fixed User-Agent lacks.

    ``config`` is the built client's (botocore fills the app id in from the shared config
    file too); ``sent`` is what :func:`facade_config` returned. ``None``: nothing missing,
    the client can stay; otherwise build it again with ``facade_config(app_id=...)``.
    """
    resolved = option(config, "user_agent_appid")
    sent_agent = option(sent, "user_agent")
    if resolved is None or sent_agent is None:
        return None
    return None if f" {_component('app', resolved)} " in f" {sent_agent} " else resolved


def session_app_id(config: Config | None, session: Any) -> str | None:
    """The ``user_agent_appid`` a client of a botocore (or aiobotocore) session would get.

    The config's, else the session's (``AWS_SDK_UA_APP_ID`` or the shared config file).
    """
    configured = option(config, "user_agent_appid")
    found: str | None = configured or session.get_config_variable("user_agent_appid")
    return found


def option(config: Config | None, name: str) -> str | None:
    """A string option of a ``Config`` (botocore-stubs do not declare them all)."""
    value: str | None = getattr(config, name, None) if config is not None else None
    return value


@functools.lru_cache(maxsize=16)
def user_agent(sdk_name: str, sdk_version: str, *, app_id: str | None = None) -> str:
    """botocore's User-Agent for this process, with this library's ``lib/`` component added.

    The same components as botocore 1.43's format, except the per-request feature list
    (``m/...``); botocore still appends the session's and the config's
    ``user_agent_extra``.
    """
    execution_env = os.environ.get("AWS_EXECUTION_ENV")
    parts = [
        (sdk_name, sdk_version),
        ("md/Botocore", botocore_version),
        ("ua/2.1", None),
        _os(),
        ("md/arch", platform.machine().lower()),
        ("lang/python", platform.python_version()),
        ("md/pyimpl", platform.python_implementation()),
        *([("exec-env", execution_env)] if execution_env else []),
        ("cfg/retry-mode", "standard"),
        *([("app", app_id)] if app_id else []),
        ("lib/typed-sagemaker-runtime", __version__),
    ]
    return " ".join(_component(name, value) for name, value in parts)


def _os() -> tuple[str, str | None]:
    system = platform.system().lower()
    family = {"darwin": "macos"}.get(system, system)
    if family in {"windows", "linux", "macos", "android", "ios", "watchos", "tvos"}:
        return (f"os/{family}", platform.release())
    return ("os/other", None)


def _component(name: str, value: str | None) -> str:
    """``name#value`` (``name/value`` for the SDK and ``exec-env``, ``app``), sanitised.

    botocore's rule: characters a User-Agent token may not hold become ``-``.
    """
    if value is None:
        return name
    separator = "#" if "/" in name else "/"
    return f"{name}{separator}{_FORBIDDEN.sub('-', value)}"
