"""`python -m drtests.cli`: the drtests command (the bench runs it so, with the interpreter it measures)."""

import sys

from drtests.cli import main

sys.exit(main())
