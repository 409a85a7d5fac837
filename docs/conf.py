"""Sphinx configuration of the documentation site.

Build it strictly, as CI does (a broken cross-reference or link fails), with nothing
but the ``docs`` extra installed (``pip install -e '.[docs]'``)::

    sphinx-build -W --keep-going -n -b html docs docs/_build/html

The pages are Markdown (MyST); the API reference is generated from the docstrings
(autodoc). The examples on the pages run as tests (Sybil, from the root ``conftest.py``).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Mapping
from typing import Any

from docutils.nodes import Element, TextElement
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.ext.napoleon import Config as NapoleonConfig
from sphinx.ext.napoleon.docstring import GoogleDocstring
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging

import typed_sagemaker_runtime
import typed_sagemaker_runtime.testing

project = "typed-sagemaker-runtime"
author = "the typed-sagemaker-runtime maintainers"
copyright = f"{author}; Apache License 2.0"
release = version = typed_sagemaker_runtime.__version__
extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",  # a [source] link beside each documented name
    "sphinx_copybutton",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "README.md"]
myst_heading_anchors = 3
nitpicky = True
smartquotes = False  # the pages quote code and JSON

html_theme = "furo"
html_copy_source = False  # no page sources in the output (pytest would collect them)
html_title = "typed-sagemaker-runtime"  # the sidebar's title, on one line (custom.css)
html_static_path = ["_static"]
html_css_files = ["custom.css"]
pygments_style = "sphinx"
pygments_dark_style = "monokai"

# The copy button copies the commands and code without their prompts ($, >>>, ...)
# and without the output of a session: output lines (Pygments' Generic.Output, .go)
# go first, as an output line may itself start with ">>> " (smr demo's does).
copybutton_exclude = ".linenos, .go"
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
copybutton_copy_empty_lines = False
copybutton_line_continuation_character = "\\"

# A signature longer than this shows one parameter per line. Sphinx measures the text
# before it is rendered (in a wider, bold font): a longer limit lets signatures that the
# page cannot hold wrap in the middle of a parameter.
maximum_signature_line_length = 72
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# Type aliases show "Alias of ..." with public names instead of their value's repr.
autodoc_default_options: dict[str, Any] = {"members": True, "no-value": True}
python_use_unqualified_type_names = True
add_module_names = False

# Types of other projects, shown as plain names: there is no network at build time to
# fetch their intersphinx inventories, and botocore/boto3 publish none for these.
nitpick_ignore_regex = [
    ("py:class", r"(collections\.abc|typing|typing_extensions|types|asyncio|re)\.\w+"),
    ("py:class", r"(botocore|boto3|aiobotocore|types_boto3\w*|types_aiobotocore\w*)\..*"),
    ("py:class", r"(Config|Stubber|BaseClient|SageMakerRuntimeClient|S3Client|Session)"),
    ("py:class", r"(ServiceModel|EventStream|ResponseStreamTypeDef)"),
    ("py:class", r"(AioSession|AioBaseClient|ClientSession)"),
    ("py:class", r"(opentelemetry\..*|TracerProvider|MeterProvider)"),
    ("py:class", r"(datetime\.)?timedelta|pathlib\.Path|Path|os\.PathLike|_io\.\w+"),
    ("py:class", r"ellipsis|NoneType|(.*\.)?_T\w*"),
    # Private helpers named in signatures; the docstrings say what they accept.
    ("py:class", r"(.*\.)?(PayloadDecoder|Destination|Progress|AioS3ClientLike)"),
    # chat()'s tool_choice: "none" | "auto" | "required" | ToolChoice.
    ("py:class", r"(.*\.)?ToolChoiceOption"),
]

logger = logging.getLogger(__name__)

_ROOT = "typed_sagemaker_runtime"
_PUBLIC = {
    **{name: f"{_ROOT}.testing.{name}" for name in typed_sagemaker_runtime.testing.__all__},
    **{name: f"{_ROOT}.{name}" for name in typed_sagemaker_runtime.__all__},
}


# Packages of the other extras (test, local, aio, otel, bidi), which the docs extra lacks.
_OTHER_EXTRAS = frozenset(
    {
        "pytest",
        "moto",
        "flask",
        "flask_cors",
        "aiobotocore",
        "aiohttp",
        "opentelemetry",
        "awscrt",
        "h2",
        "hpack",
        "hyperframe",
        "trustme",
        "websockets",
    }
)


def _defined_in_private_modules() -> None:
    """Point each public class's ``__module__`` back at the private module defining it.

    The package sets ``__module__`` to its public name, for tracebacks and reprs; but
    autodoc reads the docstrings written under attributes (TypedDict keys, dataclass
    fields, exception attributes) from the source of ``__module__``, which would then be
    the package's ``__init__``, which has none. References to the private names resolve
    to the public ones (``_resolve_public``).
    """
    import pkgutil

    exported = {
        name: getattr(typed_sagemaker_runtime, name) for name in typed_sagemaker_runtime.__all__
    }
    for module_info in pkgutil.walk_packages(typed_sagemaker_runtime.__path__, f"{_ROOT}."):
        last = module_info.name.rsplit(".", 1)[1]
        if not last.startswith("_") or last == "__main__" or module_info.ispkg:
            continue
        try:
            module = importlib.import_module(module_info.name)
        except ModuleNotFoundError as exc:
            # A module that needs another extra's package (the pytest plugin, moto's S3
            # server) defines none of the documented names: the docs extra alone builds
            # the site, and the check that every public name is documented still runs.
            if (exc.name or "").partition(".")[0] in _OTHER_EXTRAS:
                continue
            raise
        for name, value in exported.items():
            defines = module.__dict__.get(name) is value and name in getattr(module, "__all__", ())
            if defines and isinstance(value, type) and value.__module__ == _ROOT:
                value.__module__ = module.__name__


_defined_in_private_modules()


def _public_name(target: str) -> str | None:
    """The documented name of ``target``, or ``None`` when it names nothing public.

    Signatures name the private module a class is defined in
    (``testing._model.InvocationRequest``), and docstrings name classes without their
    module; the reference documents each name under the module users import it from.
    """
    parts = target.split(".")
    for index, part in enumerate(parts):
        if part in _PUBLIC:
            return ".".join([_PUBLIC[part], *parts[index + 1 :]])
        if part not in (_ROOT, "testing") and not part.startswith("_"):
            return None
    return None


def _resolve_public(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: TextElement
) -> Element | None:
    if node.get("refdomain") != "py":
        return None
    target = _public_name(str(node["reftarget"]))
    if target is None or target == node["reftarget"]:
        return None
    domain: Any = env.get_domain("py")
    resolved: Element | None = domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], target, node, contnode
    )
    return resolved


def _check_reference_complete(app: Sphinx, env: BuildEnvironment) -> None:
    """Fail the (strict) build when a public name has no entry in the API reference."""
    domain: Any = env.get_domain("py")
    documented = {str(name) for name in domain.objects}
    missing = sorted(set(_PUBLIC.values()) - documented)
    for client in (
        typed_sagemaker_runtime.SageMakerRuntime,
        typed_sagemaker_runtime.AsyncSageMakerRuntime,
    ):
        methods = {name for name in dir(client) if not name.startswith("_")}
        missing += sorted(
            f"{_ROOT}.{client.__name__}.{name}"
            for name in methods
            if f"{_ROOT}.{client.__name__}.{name}" not in documented
        )
    if missing:
        logger.warning("not in the API reference: %s", ", ".join(missing))


def _attribute_docstrings() -> dict[str, list[str]]:
    """The docstrings written under module-level names, e.g. under ``Body: TypeAlias = ...``.

    Python keeps no docstring for a type alias or a constant, and autodoc looks for the
    one written under it only in the module it documents: the package, which merely
    re-exports the name. So read them from the private modules that define them.
    """
    import pkgutil

    found: dict[str, list[str]] = {}
    for package in (typed_sagemaker_runtime, typed_sagemaker_runtime.testing):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if module.name.endswith(".__main__"):
                continue
            # The source is read, not imported (a module may need another extra).
            spec = importlib.util.find_spec(module.name)
            assert spec is not None
            assert spec.origin is not None
            analyzer = ModuleAnalyzer.for_file(spec.origin, module.name)
            for (scope, name), lines in analyzer.find_attr_docs().items():
                if not scope and name in _PUBLIC:
                    found[_PUBLIC[name]] = list(lines)
    return found


_ATTRIBUTE_DOCSTRINGS = _attribute_docstrings()


def _alias_of(value: object) -> str:
    """``value`` (a type alias) in reST: the package's names linked under their public names."""
    from sphinx.util.typing import stringify_annotation

    text = stringify_annotation(value, "fully-qualified-except-typing")

    def name(match: re.Match[str]) -> str:
        public = _public_name(match[0])
        return f":py:obj:`~{public}`" if public else match[0].rsplit(".", 1)[-1]

    return re.sub(r"[A-Za-z_][\w.]*", name, text)


def _reexported_docstring(
    app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    if what == "data" and name in _ATTRIBUTE_DOCSTRINGS:
        lines[:] = _ATTRIBUTE_DOCSTRINGS[name]
        if not isinstance(obj, (str, int, dict, Mapping)):  # a type alias, not a constant
            lines[:0] = [f"Alias of {_alias_of(obj)}", ""]


# Google-style sections (Args, Returns, Raises, ...) in the docstrings of functions,
# methods and classes. Not through the napoleon extension: it would also read the first
# line of an attribute's docstring ("Nucleus sampling: ...") as the attribute's type.
# (GoogleDocstring takes napoleon's own Config too, which its annotation omits.)
_GOOGLE_STYLE: Any = NapoleonConfig(napoleon_numpy_docstring=False, napoleon_use_rtype=False)


def _google_sections(
    app: Sphinx, what: Any, name: str, obj: object, options: Any, lines: list[str]
) -> None:
    if what in ("function", "method", "class", "exception"):
        lines[:] = GoogleDocstring(lines, _GOOGLE_STYLE, app, what, name, obj, options).lines()


# The [source] links (viewcode). A client's methods are written in private mixins
# (``LLMMethods.chat``) and documented as the client's (``SageMakerRuntime.chat``):
# each gets its mixin's module and the mixin's line numbers. A name with no source of
# its own in the package (a type alias of ``typing`` constructs) gets no link, rather
# than one into the standard library.
_NO_SOURCE = f"{_ROOT}.__no_source__"


def _inherited_tags() -> dict[str, dict[str, str]]:
    """Per module: the documented name of each member a public class inherits from it."""
    aliases: dict[str, dict[str, str]] = {}
    for value in (typed_sagemaker_runtime, typed_sagemaker_runtime.testing):
        for name in value.__all__:
            cls = getattr(value, name)
            if not isinstance(cls, type):
                continue
            for base in cls.__mro__[1:]:
                if not base.__module__.startswith(f"{_ROOT}."):
                    continue
                for member in vars(base):
                    if not member.startswith("_"):
                        aliases.setdefault(base.__module__, {}).setdefault(
                            f"{cls.__name__}.{member}", f"{base.__qualname__}.{member}"
                        )
    return aliases


_INHERITED_TAGS = _inherited_tags()


def _defining_module(app: Sphinx, modname: str | None, fullname: str) -> str:
    """The module whose source defines ``fullname``, documented under ``modname``."""
    if not modname or not modname.startswith(_ROOT):
        return _NO_SOURCE
    owner: object = None
    value: object = importlib.import_module(modname)
    for part in fullname.split("."):
        owner, value = value, getattr(value, part, None)
        if value is None:
            return _NO_SOURCE
    if isinstance(owner, type):  # a member: the class of the MRO that defines it
        member = fullname.rsplit(".", 1)[-1]
        defined_in = next((c.__module__ for c in owner.__mro__ if member in vars(c)), "")
    else:
        defined_in = str(getattr(value, "__module__", ""))
    return defined_in if defined_in.startswith(f"{_ROOT}.") else _NO_SOURCE


def _source_with_inherited_tags(
    app: Sphinx, modname: str
) -> tuple[str, dict[str, tuple[str, int, int]]] | None:
    aliases = _INHERITED_TAGS.get(modname)
    if aliases is None:
        return None
    analyzer = ModuleAnalyzer.for_module(modname)
    tags = dict(analyzer.find_tags())
    for public, private in aliases.items():
        if private in tags:
            tags[public] = tags[private]
    return analyzer.code, tags


def setup(app: Sphinx) -> None:
    app.connect("viewcode-follow-imported", _defining_module)
    app.connect("viewcode-find-source", _source_with_inherited_tags)
    app.connect("autodoc-process-docstring", _google_sections)
    app.connect("autodoc-process-docstring", _reexported_docstring)
    app.connect("missing-reference", _resolve_public)
    app.connect("env-check-consistency", _check_reference_complete)
