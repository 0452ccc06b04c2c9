"""Run the command-line interface: python -m nstlib --help."""

import sys

from .cli import main

sys.exit(main())
