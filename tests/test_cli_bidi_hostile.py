"""``smr serve`` and ``smr bidi`` as a user sees them, where they misled (issue 21 review)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

pytest.importorskip("h2")
pytest.importorskip("trustme")

SERVE = [sys.executable, "-m", "typed_sagemaker_runtime._cli._serve"]


def _banner(*args: str) -> list[str]:
    process = subprocess.Popen(
        [*SERVE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert process.stdout is not None
    banner: list[str] = []
    try:
        for line in process.stdout:
            banner.append(line.rstrip("\n"))
            if line.startswith("Any region"):
                break
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    return banner


def test_the_banner_does_not_say_any_credentials_work_where_signatures_are_checked() -> None:
    banner = _banner("--port", "0")
    assert any("sign with the dummy credentials testing/testing" in line for line in banner)
    assert not any(line.startswith("Any region and credentials work") for line in banner)
    assert banner[-1].startswith("Any region works, and any credentials but on bidirectional")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_an_answer_that_cannot_be_written_is_one_error_line_not_a_traceback() -> None:
    pytest.importorskip("awscrt")
    from typed_sagemaker_runtime.testing import LocalRuntime

    with LocalRuntime() as local:
        local.add_endpoint("ep")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(sys.path),
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2": local.bidi_endpoint_url,
            "AWS_CA_BUNDLE": local.ca_bundle,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        with open("/dev/full", "w") as full:
            done = subprocess.run(
                [sys.executable, "-m", "typed_sagemaker_runtime._cli", "bidi", "ep"],
                input="hello\n",
                stdout=full,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                timeout=60,
                check=False,
            )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == ["smr: error: OSError: No space left on device"]
