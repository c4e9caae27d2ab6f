"""`python -m anivault`."""

import sys

from anivault.cli.app import main

if __name__ == "__main__":
    sys.exit(main())
