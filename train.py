"""Emusify: train (see README.md). Same as the `emusify-train` command."""

import sys

from emusify.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
