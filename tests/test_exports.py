"""The public surface: every name in design.md importable from the root, cheaply."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import typed_sagemaker_runtime

DESIGNED = {
    "SageMakerRuntime",
    "AsyncSageMakerRuntime",
    "AsyncResponseStream",
    "InvokeResult",
    "InvokeAsyncResult",
    "StreamMetadata",
    "ResponseMetadata",
    "AsyncOutput",
    "ResponseStream",
    "PayloadPart",
    "ModelStreamError",
    "InternalStreamFailure",
    "StreamEvent",
    "ServerSentEvent",
    "SageMakerRuntimeError",
    "ClientValidationError",
    "ServiceError",
    "ValidationError",
    "EndpointNotFoundError",
    "AccessDeniedError",
    "ModelError",
    "ModelNotReadyError",
    "ThrottlingError",
    "InternalFailureError",
    "ServiceUnavailableError",
    "InternalDependencyError",
    "TransportError",
    "TimeoutError",
    "StreamError",
    "ModelStreamInterruptedError",
    "InternalStreamFailureError",
    "StreamDecodeError",
    "GenerationError",
    "AsyncInferenceError",
    "AsyncInferenceFailedError",
    "AsyncInferenceTimeoutError",
    "ToolCallDelta",
    "ToolCall",
    "Usage",
    "GenerationChunk",
    "Generation",
    "ChatMessage",
    "ToolSpec",
    "GenerateParameters",
}


def test_every_designed_name_is_exported() -> None:
    assert set(typed_sagemaker_runtime.__all__) >= DESIGNED
    for name in typed_sagemaker_runtime.__all__:
        assert getattr(typed_sagemaker_runtime, name) is not None


def test_public_classes_name_the_public_module() -> None:
    for name in typed_sagemaker_runtime.__all__:
        obj = getattr(typed_sagemaker_runtime, name)
        if isinstance(obj, type):
            assert obj.__module__ == "typed_sagemaker_runtime", name


def test_dir_lists_the_lazy_names() -> None:
    assert {
        "SageMakerRuntime",
        "ResponseStream",
        "AsyncSageMakerRuntime",
        "AsyncResponseStream",
    } <= set(dir(typed_sagemaker_runtime))


def test_root_import_does_not_load_boto3() -> None:
    """The pytest plugin imports the package in every test run: keep it cheap."""
    code = (
        "import sys, typed_sagemaker_runtime, typed_sagemaker_runtime.testing;"
        "print(sorted(m for m in ('boto3', 'botocore', 'urllib3', 'aiobotocore', 'aiohttp')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


SOURCE = Path(typed_sagemaker_runtime.__file__).parent


def run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def loaded_after(statement: str) -> set[str]:
    """The package's modules a fresh interpreter has loaded after ``statement``."""
    code = (
        f"import sys; {statement};"
        "print(*sorted(m for m in sys.modules if m.startswith('typed_sagemaker_runtime')))"
    )
    return set(run(code).split())


def existing(*names: str) -> tuple[str, ...]:
    """``names`` (modules or packages), each checked to exist, so a rename cannot hide one."""
    for name in names:
        path = SOURCE.joinpath(*name.split(".")[1:])
        assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), name
    return names


def test_root_import_loads_only_the_exceptions() -> None:
    """``import typed_sagemaker_runtime`` loads the exceptions only; the rest on first use."""
    assert loaded_after("import typed_sagemaker_runtime") == set(
        existing(
            "typed_sagemaker_runtime",
            "typed_sagemaker_runtime._core",
            "typed_sagemaker_runtime._core._exceptions",
            "typed_sagemaker_runtime._core._public",
            "typed_sagemaker_runtime._version",
        )
    )


def test_the_sync_client_loads_no_llm_or_decoder_module() -> None:
    """A plain invoke needs none of the LLM layer, the decoders, streams, async inference or
    OpenTelemetry's record (loaded once something records)."""
    unwanted = existing(
        "typed_sagemaker_runtime._decoders",
        "typed_sagemaker_runtime._llm",
        "typed_sagemaker_runtime._aio",
        "typed_sagemaker_runtime._core._llm_types",
        "typed_sagemaker_runtime._core._eventstream",
        "typed_sagemaker_runtime._core._async_inference",
        "typed_sagemaker_runtime._base._stream",
        "typed_sagemaker_runtime._sync._stream",
        "typed_sagemaker_runtime._sync._async_inference",
        "typed_sagemaker_runtime._telemetry._otel_record",
    )
    loaded = loaded_after("from typed_sagemaker_runtime import SageMakerRuntime")
    assert "typed_sagemaker_runtime._sync._client" in loaded
    assert not {
        m for m in loaded if m in unwanted or m.startswith(tuple(f"{u}." for u in unwanted))
    }


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_classes_name_the_public_module_before_the_root_names_are_used(flavour: str) -> None:
    """A client from ``testing``, its stream and events: none looked up through the root."""
    show = "print(*(f'{type(o).__module__}.{type(o).__name__}' for o in (smr, stream, event)))"
    if flavour == "async":
        pytest.importorskip("aiobotocore", reason="the 'aio' extra is not installed")
        use = (
            "import asyncio\n"
            "async def main():\n"
            "    async with local.async_client() as smr:\n"
            "        async with await smr.stream('echo', b'x') as stream:\n"
            "            event = await anext(aiter(stream))\n"
            f"            {show}\n"
            "asyncio.run(main())\n"
        )
    else:
        use = (
            "with local.client() as smr, smr.stream('echo', b'x') as stream:\n"
            "    event = next(iter(stream))\n"
            f"    {show}\n"
        )
    code = (
        "from typed_sagemaker_runtime.testing import LocalRuntime\n"
        "with LocalRuntime() as local:\n"
        "    local.add_endpoint('echo')\n"
        + "".join("    " + line + "\n" for line in use.splitlines())
    )
    prefix = "Async" if flavour == "async" else ""
    assert run(code) == (
        f"typed_sagemaker_runtime.{prefix}SageMakerRuntime "
        f"typed_sagemaker_runtime.{prefix}ResponseStream typed_sagemaker_runtime.PayloadPart"
    )


def test_every_name_resolves_in_a_fresh_interpreter() -> None:
    """Each name of ``__all__`` on its own (no other name looked up first), and ``dir()``."""
    code = (
        "import importlib, subprocess, sys, typed_sagemaker_runtime as t;"
        "print(sorted(set(t.__all__) - set(dir(t))));"
        "print(t.__all__)"
    )
    missing_from_dir, names = run(code).splitlines()
    assert missing_from_dir == "[]"
    for name in ast.literal_eval(names):
        value = run(f"import typed_sagemaker_runtime as t; print(t.{name} is not None)")
        assert value == "True", name


def test_a_class_from_a_lazy_module_names_the_public_module() -> None:
    """Loaded as a dependency of the stream, before anyone looks it up at the root."""
    code = (
        "from typed_sagemaker_runtime import ResponseStream;"
        "import sys; assert 'typed_sagemaker_runtime._core._events' in sys.modules;"
        "from typed_sagemaker_runtime._core._events import PayloadPart;"
        "print(PayloadPart.__module__)"
    )
    assert run(code) == "typed_sagemaker_runtime"


# The exceptions of a stream name their event's type only for the type checkers (the
# events module is not loaded by ``import typed_sagemaker_runtime``).
_HINTS_NEED_TYPE_CHECKING = {
    "StreamError",
    "ModelStreamInterruptedError",
    "InternalStreamFailureError",
    "StreamDecodeError",
    "GenerationError",
}


def test_type_hints_of_public_classes_resolve_without_the_root_names() -> None:
    """``typing.get_type_hints`` (pydantic, cattrs, typeguard) on a class nobody looked up.

    The classes name the package as their module, whose names load lazily; their
    annotations resolve in the module that defines them (``Generation.usage`` is a
    ``Usage`` even when ``typed_sagemaker_runtime.Usage`` was never touched).
    """
    code = (
        "import importlib, typing, typed_sagemaker_runtime as t\n"
        "from typed_sagemaker_runtime import _LAZY\n"
        "failed = []\n"
        "for name in t.__all__:\n"
        "    where = importlib.import_module(_LAZY[name], t.__name__) if name in _LAZY else t\n"
        "    value = vars(where)[name]\n"
        "    if isinstance(value, type):\n"
        "        try:\n"
        "            typing.get_type_hints(value)\n"
        "        except NameError:\n"
        "            failed.append(name)\n"
        "print(*sorted(failed))\n"
        "print(typing.get_type_hints(vars(importlib.import_module("
        "'typed_sagemaker_runtime._core._llm_types'))['Generation'])['usage'])\n"
    )
    failed, usage = run(code).splitlines()
    assert set(failed.split()) == _HINTS_NEED_TYPE_CHECKING
    assert usage == "typed_sagemaker_runtime.Usage | None"


def test_a_vendored_copy_names_its_own_package(tmp_path: Path) -> None:
    """Copied under another package, the classes name the copy (so they still pickle)."""
    import shutil

    shutil.copytree(SOURCE, tmp_path / "vendor" / "typed_sagemaker_runtime")
    (tmp_path / "vendor" / "__init__.py").write_text("")
    code = (
        f"import sys, pickle; sys.path.insert(0, {str(tmp_path)!r})\n"
        "from vendor.typed_sagemaker_runtime import ModelError, StreamDecodeError\n"
        "print(ModelError.__module__)\n"
        "print(type(pickle.loads(pickle.dumps(StreamDecodeError('x')))).__module__)\n"
    )
    assert run(code).splitlines() == ["vendor.typed_sagemaker_runtime"] * 2


@pytest.mark.parametrize("name", ["SageMakerRuntime", "AsyncSageMakerRuntime"])
def test_a_wrong_call_names_the_client_not_a_mixin(name: str) -> None:
    """The clients are composed of private parts; their errors name the class used."""
    client = getattr(typed_sagemaker_runtime, name)
    for attribute in dir(client):
        member = getattr(client, attribute)
        function = member.fget if isinstance(member, property) else member
        if not attribute.startswith("__") and inspect.isfunction(function):
            assert function.__qualname__ == f"{name}.{attribute}"
    with pytest.raises(TypeError, match=rf"^{name}\.__init__\(\) got an unexpected keyword"):
        client(regoin_name="us-east-1")
    with pytest.raises(TypeError, match=rf"^{name}\.chat\(\) missing 1 required positional"):
        client.chat(object(), "endpoint")
