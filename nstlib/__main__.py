"""Run the command-line interface: python -m nstlib --help."""

import os
import sys
from contextlib import nullcontext


def run() -> int:
    """Show a line while PyTorch loads (2-3 s on a 2-core CPU), then run the command line."""
    quiet = "--quiet" in sys.argv[1:] or not sys.stderr.isatty()  # pipes and logs get no \r bars
    quiet = quiet or os.environ.get("RANK", "0") != "0"  # under torchrun rank 0 alone shows progress
    if quiet:
        loading = nullcontext()
    else:
        from tqdm import tqdm

        loading = tqdm(desc="starting (loading PyTorch)", bar_format="{desc}", leave=False)
    with loading:
        from .cli import main
    return main()


if __name__ == "__main__":  # python -m nstlib; the `nstlib` script calls run()
    sys.exit(run())
