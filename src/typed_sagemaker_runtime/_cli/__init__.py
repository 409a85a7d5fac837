"""The ``smr`` command line: ``_main`` parses and dispatches; one module per subcommand.

``main`` is the console script's entry point (``typed_sagemaker_runtime._cli:main``);
``python -m typed_sagemaker_runtime._cli`` runs it too.
"""

from ._main import main

__all__ = ["main"]
