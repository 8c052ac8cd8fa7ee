"""``python -m mm_conformance.cli``: the same as the ``mm-conformance`` command."""

import sys

from mm_conformance.cli import main

sys.exit(main())
