"""``python -m asynclambda``: the same as the ``asynclambda`` command."""

import sys

from asynclambda.cli import main

sys.exit(main())
