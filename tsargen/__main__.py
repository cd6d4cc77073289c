"""``python -m tsargen``: the tsargen command line (see :mod:`tsargen.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
