"""Emusify: collect (see README.md). Same as the `emusify-collect` command."""

import sys

from emusify.cli.collect import main

if __name__ == "__main__":
    sys.exit(main())
