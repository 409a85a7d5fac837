"""Every code example in the README and in ``docs/`` runs as a test (Sybil).

Python blocks run in page order in one namespace per page; ``>>>`` blocks compare their
output with the page (``...`` matches anything, for request ids and UUIDs). ``console``
blocks run each ``$`` command in a shell and compare what it prints. Both run against
the local endpoints of ``docs/tour_endpoints.py``, which the environment points boto3
at. Set-up commands that install packages or run for minutes are marked
``<!-- skip: next -->`` on the page.
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sybil import Example, Sybil
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "docs"))

from tour_endpoints import environment, tour_runtime  # noqa: E402

_OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
_CLEARED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_RETRY_MODE",
    "AWS_MAX_ATTEMPTS",
)


def _models_inline_async_body() -> bool:
    """Whether this botocore can send an inline async body, asked as the library asks."""
    import botocore.session

    from typed_sagemaker_runtime._core._params import models_member

    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    return models_member(model.operation_model("InvokeEndpointAsync"), "Body")


def _setup(namespace: dict[str, Any]) -> None:
    local = tour_runtime()
    saved = {name: os.environ.get(name) for name in (*_CLEARED, *environment(local))}
    saved["AWS_CONFIG_FILE"] = os.environ.get("AWS_CONFIG_FILE")
    saved["AWS_SHARED_CREDENTIALS_FILE"] = os.environ.get("AWS_SHARED_CREDENTIALS_FILE")
    for name in _CLEARED:
        os.environ.pop(name, None)
    nowhere = str(Path(tempfile.gettempdir()) / "typed-sagemaker-runtime-no-aws-config")
    os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = nowhere
    os.environ.update(environment(local))
    namespace["__tour__"] = (local, saved)
    namespace["HAS_AIO"] = importlib.util.find_spec("aiobotocore") is not None
    namespace["HAS_RAY"] = importlib.util.find_spec("ray") is not None
    namespace["HAS_INLINE_ASYNC"] = _models_inline_async_body()


def _teardown(namespace: dict[str, Any]) -> None:
    local, saved = namespace.pop("__tour__")
    namespace.pop("HAS_AIO")
    namespace.pop("HAS_RAY")
    namespace.pop("HAS_INLINE_ASYNC")
    for value in list(namespace.values()):
        close = getattr(value, "close", None)
        if type(value).__name__ == "SageMakerRuntime" and close is not None:
            close()
    local.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _run_console(example: Example) -> str | None:
    """Run each ``$ command`` of a console block; compare its output with the page's."""
    checker = doctest.OutputChecker()
    command: str | None = None
    expected: list[str] = []
    runs: list[tuple[str, str]] = []
    for line in str(example.parsed).splitlines():
        if line.startswith("$ "):
            if command is not None:
                runs.append((command, "\n".join(expected)))
            command, expected = line[2:], []
        else:
            expected.append(line)
    if command is not None:
        runs.append((command, "\n".join(expected)))
    for command, want in runs:
        # One pipe for both streams: what a terminal shows, in the order it was written.
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
            check=False,
        )
        got = done.stdout
        if done.returncode != 0:
            return f"$ {command}\nexited {done.returncode}:\n{got}"
        if not checker.check_output(want + "\n", got, _OPTIONS):
            return f"$ {command}\nexpected:\n{want}\ngot:\n{got}"
    return None


collect_ignore = ["docs/_build"]  # the built site

pytest_collect_file = Sybil(
    parsers=[
        PythonCodeBlockParser(doctest_optionflags=_OPTIONS),
        CodeBlockParser(language="console", evaluator=_run_console),
        SkipParser(),
    ],
    patterns=["README.md", "docs/*.md", "docs/**/*.md"],
    setup=_setup,
    teardown=_teardown,
).pytest()
