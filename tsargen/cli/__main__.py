"""``python -m tsargen.cli``: the tsargen command line."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
