"""The README's quick start as a newcomer types it: the command-line example, --help, the log line."""

import os
import re
import shlex
import subprocess
import sys

from nstlib.cli import EXAMPLES, build_parser
from tests.helpers import ROOT

TINY = " --size 32 --steps 2"  # appended to keep the README's example fast here


def readme_cli_example() -> str:
    """The README's command-line example: its bash block that runs `python -m nstlib img/...`."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    (example,) = [b.strip() for b in blocks if b.startswith("python -m nstlib img/")]
    return example


def test_the_readme_example_runs_twice_in_a_fresh_folder(tmp_path):
    """Run twice exactly as written (the README's relative paths, from a folder with img/): both succeed."""
    (tmp_path / "img").symlink_to(ROOT / "img")
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    runs = [
        subprocess.run(
            ["bash", "-c", readme_cli_example() + TINY],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        for _ in range(2)
    ]
    for done in runs:
        assert done.returncode == 0, done.stderr
        assert re.match(r"wrote cat-cafe\.jpg \(32x21 px, strength 20, ", done.stdout), done.stdout
        # stderr is a pipe here, as in a log: the VGG-19 line once, no running clock (no \r copies)
        assert done.stderr.count("loading VGG-19") == 1, done.stderr
        assert "loading VGG-19\n" in done.stderr and "(00:" not in done.stderr
    assert (tmp_path / "cat-cafe.jpg").stat().st_size > 0


def test_help_ends_with_examples_that_parse():
    """Two for photos, then a folder's in one process and under torchrun."""
    help_text = build_parser().format_help()
    assert help_text.rstrip().endswith(EXAMPLES.rstrip())
    commands = [line.strip() for line in EXAMPLES.splitlines() if line.startswith("  ")]
    assert len(commands) == 4 and "`nstlib ...` is the same command" in EXAMPLES
    for command in commands:
        argv = shlex.split(command)
        launcher = argv[: argv.index("nstlib") + 1]
        assert launcher in (
            ["python", "-m", "nstlib"],
            ["torchrun", "--standalone", "--nproc_per_node=2", "-m", "nstlib"],
        )
        args = build_parser().parse_args(argv[len(launcher) :])
        assert args.output and args.content
    assert commands[0] == readme_cli_example()  # the README's example is --help's first


def test_the_readme_names_the_installed_command_and_the_check():
    readme = (ROOT / "README.md").read_text()
    assert "the command `nstlib`" in readme and "```bash\npython -m nstlib.course check\n```" in readme
    assert "--allow-root" in readme and "this environment" not in readme
