"""What a newcomer reads: install lines that work, every feature listed, a complete reference.

The examples on the pages run as tests too (Sybil, from the root ``conftest.py``); these
check what an example cannot: that the pages name what the package has, and that the
``docs`` extra alone builds the site.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from typed_sagemaker_runtime import AsyncSageMakerRuntime, SageMakerRuntime
from typed_sagemaker_runtime._cli._main import _SUBCOMMANDS

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _pages() -> list[Path]:
    return [page for page in PAGES if "_build" not in page.parts]


def test_no_install_line_fetches_the_package_from_an_index() -> None:
    """The package is not on PyPI: every install line installs from a clone (a path)."""
    from_index = re.compile(r"pip install[^\n`]*?(?<![/\w-])'?typed-sagemaker-runtime\b(?!/)")
    offenders = [
        f"{page.relative_to(ROOT)}:{number}: {line.strip()}"
        for page in _pages()
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if from_index.search(line)
    ]
    assert offenders == []


def _opening_list(page: Path) -> str:
    """The text before the page's first second-level heading: its list of features."""
    return page.read_text(encoding="utf-8").split("\n## ", 1)[0]


@pytest.mark.parametrize("page", ["README.md", "docs/index.md"])
def test_the_opening_list_names_every_smr_command_and_the_llm_methods(page: str) -> None:
    opening = _opening_list(ROOT / page)
    missing = [
        name
        for name, *_ in _SUBCOMMANDS
        if not re.search(rf"`(smr )?{re.escape(name)}[` ]", opening)
    ] + [
        method
        for method in ("chat", "chat_stream", "generate", "generate_stream")
        if not re.search(rf"\b{method}\b(?!_)", opening)
    ]
    assert "tool call" in opening
    assert missing == []


def test_the_cli_guide_has_a_row_and_a_section_for_every_command() -> None:
    guide = (ROOT / "docs/guides/cli.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `smr ([\w-]+)", guide, re.MULTILINE))
    sections = set(re.findall(r"^## ([\w-]+)$", guide, re.MULTILINE))
    commands = {name for name, *_ in _SUBCOMMANDS}
    assert commands <= rows
    assert commands - {"demo"} <= sections  # the quickstart shows smr demo


def _client_methods() -> dict[str, object]:
    return {
        f"{client.__name__}.{name}": member
        for client in (SageMakerRuntime, AsyncSageMakerRuntime)
        for name, member in vars(client).items() | _inherited(client)
        if not name.startswith("_") and inspect.isfunction(member)
    }


def _inherited(client: type) -> set[tuple[str, object]]:
    return {
        (name, member)
        for base in client.__mro__[1:]
        if base.__module__.startswith("typed_sagemaker_runtime.")
        for name, member in vars(base).items()
    }


@pytest.mark.parametrize("name", sorted(_client_methods()))
def test_every_client_method_documents_its_arguments_returns_and_raises(name: str) -> None:
    """Google-style sections, as the API reference renders them (httpx's and openai's model)."""
    method = _client_methods()[name]
    assert callable(method)
    signature = inspect.signature(method)
    parameters = [p for p in signature.parameters if p != "self"]
    if not parameters and signature.return_annotation in (None, "None"):
        return  # close(), aclose()
    doc = inspect.getdoc(method) or ""
    sections = dict(re.findall(r"^(Args|Returns|Raises):\n((?:(?:    .*)?\n)*)", doc + "\n", re.M))
    assert {"Args", "Returns", "Raises"} <= set(sections), name
    documented = re.findall(r"^    (\w+):", sections["Args"], re.MULTILINE)
    assert documented == parameters, name
    assert re.findall(r"^    (\w+Error):", sections["Raises"], re.MULTILINE), name


def test_the_client_classes_document_their_constructor() -> None:
    for client in (SageMakerRuntime, AsyncSageMakerRuntime):
        doc = inspect.getdoc(client) or ""
        parameters = [p for p in inspect.signature(client).parameters if p != "self"]
        args = doc.split("\nArgs:\n", 1)[1].split("\n\n", 1)[0]
        assert re.findall(r"^    (\w+):", args, re.MULTILINE) == parameters


def test_every_constructor_docstring_reaches_the_reference() -> None:
    """A class whose ``__init__`` has its own docstring is shown with it (autodoc shows
    only the class docstring by default: LocalRuntime's idle_timeout, request_timeout
    and max_connections were documented nowhere on the site)."""
    import typed_sagemaker_runtime
    import typed_sagemaker_runtime.testing

    reference = "\n".join(
        page.read_text(encoding="utf-8") for page in sorted((ROOT / "docs/reference").glob("*.md"))
    )
    for module in (typed_sagemaker_runtime, typed_sagemaker_runtime.testing):
        for name in module.__all__:
            value = getattr(module, name)
            init = vars(value).get("__init__") if isinstance(value, type) else None
            doc = None if init is None else init.__doc__  # None.__doc__ is text on 3.13
            if not doc or "see the class docstring" in doc:
                continue
            directive = re.search(
                rf"^\.\. auto(?:class|exception):: {name}\n((?:   .*\n)*)", reference, re.M
            )
            assert directive is not None, f"{name} is not in the reference"
            assert ":class-doc-from: both" in directive.group(1), name


_STRICT = ("-q", "-E", "-W", "--keep-going", "-n", "-b", "html")
# Packages of the other extras: the docs extra has none of them.
_BLOCKED = (
    "pytest",
    "moto",
    "flask",
    "flask_cors",
    "aiobotocore",
    "opentelemetry",
    "awscrt",
    "h2",
    "trustme",
    "websockets",
    "rich",
    "ray",
    "pyarrow",
    "pandas",
)


@pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason="the site is built on Python 3.11+ (CI's docs job); on 3.10 autodoc leaves the "
    "type aliases unresolved when the other extras' packages are absent",
)
def test_the_docs_build_without_the_packages_of_the_other_extras(tmp_path: Path) -> None:
    """``pip install -e '.[docs]'`` then the strict build: pytest, moto, ... are absent.

    CI builds the site in a virtual environment with only the docs extra; this runs the
    same build here with those packages made unimportable.
    """
    script = textwrap.dedent(
        f"""
        import importlib.abc, sys

        class Absent(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] in {_BLOCKED!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                return None

        for name in list(sys.modules):
            if name.partition(".")[0] in {_BLOCKED!r}:
                del sys.modules[name]
        sys.meta_path.insert(0, Absent())
        from sphinx.cmd.build import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *_STRICT, str(ROOT / "docs"), str(tmp_path / "html")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    reference = (tmp_path / "html/reference/clients.html").read_text(encoding="utf-8")
    assert 'id="typed_sagemaker_runtime.AsyncSageMakerRuntime.chat_stream"' in reference
    testing = (tmp_path / "html/reference/testing.html").read_text(encoding="utf-8")
    assert "max_connections</span></code> connections are served" in testing
