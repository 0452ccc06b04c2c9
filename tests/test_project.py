"""The repository keeps its promises: credits, dependency lists, README == CI, offline tests."""

import re
import socket

import pytest
import yaml

from conftest import IMG, ROOT, NetworkBlocked


def test_every_image_has_a_credit_row_and_every_row_a_file():
    credits = (IMG / "CREDITS.md").read_text()
    rows = set(re.findall(r"^\| ([\w.-]+\.jpg) \|", credits, flags=re.M))
    files = {p.name for p in IMG.glob("*/*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")}
    assert files and files == rows


def _name(requirement: str) -> str:
    return re.split(r"[<>=\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    pip_reqs = {
        r for r in project["dependencies"] + extras["course"] + extras["dev"] if not r.startswith("nstlib")
    }
    env = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    conda = [d for d in env if isinstance(d, str)]
    pip_section = next(d["pip"] for d in env if isinstance(d, dict))
    conda_reqs = {d.replace("pytorch", "torch", 1) for d in conda if not d.startswith(("python=", "pip"))}
    conda_reqs |= {r for r in pip_section if not r.startswith("-e")}
    normalise = lambda reqs: {r.replace(" ", "").split("#")[0] for r in reqs}  # noqa: E731
    assert {_name(r) for r in pip_reqs} == {_name(r) for r in conda_reqs}
    assert normalise(pip_reqs) == normalise(conda_reqs)  # same version bounds too


def test_ci_runs_the_readme_commands_verbatim():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    install = next(b.strip() for b in blocks if "pip install" in b)
    test = next(b.strip() for b in blocks if "pytest" in b)
    ci = (ROOT / ".ci" / "run").read_text()
    assert install in ci and test in ci
    assert "jupyter lab notebooks/" in readme


def test_the_network_really_is_blocked():
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("127.0.0.1", 9))
    with pytest.raises(NetworkBlocked):
        socket.socket().connect(("127.0.0.1", 9))
