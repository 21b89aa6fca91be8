"""Emusify: run (see README.md). Same as the `emusify-run` command."""

import sys

from emusify.cli.run import main

if __name__ == "__main__":
    sys.exit(main())
