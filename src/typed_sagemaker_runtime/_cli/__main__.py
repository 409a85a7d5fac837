"""``python -m typed_sagemaker_runtime._cli``: the ``smr`` command line."""

import sys

from ._main import main

sys.exit(main())
