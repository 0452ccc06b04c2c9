"""The repository keeps its promises: credits, dependency lists, README == CI, offline tests."""

import re
import socket

import pytest
import yaml

from tests.helpers import IMG, ROOT, NetworkBlocked


def test_every_image_has_a_credit_row_and_every_row_a_file():
    credits = (IMG / "CREDITS.md").read_text()
    row_list = re.findall(r"^\| ([\w.-]+\.(?:jpg|png)) \|", credits, flags=re.M)
    rows = set(row_list)
    assert len(row_list) == len(rows), "a file has two credit rows"
    # every image under img/, at any depth (content/, style/, train/, train/val/, eval/, ...)
    paths = sorted(p for p in IMG.rglob("*") if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    names = [p.name for p in paths]
    dupes = sorted({n for n in names if names.count(n) > 1})
    assert not dupes, f"file names must be unique across img/ folders (rows give bare names): {dupes}"
    files = set(names)
    assert {p.parent.relative_to(IMG).as_posix() for p in paths} >= {
        "content",
        "style",
        "train",
        "train/val",
        "eval",
    }
    assert files and files == rows, (sorted(files - rows), sorted(rows - files))


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
    assert any("python -m nstlib.course workspace" in b and "jupyter lab workspace/" in b for b in blocks)


def test_the_network_really_is_blocked():
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("127.0.0.1", 9))
    with pytest.raises(NetworkBlocked):
        socket.socket().connect(("127.0.0.1", 9))


def test_library_functions_stay_short_and_simple():
    import ast
    import subprocess
    import sys

    long = []
    for path in sorted((ROOT / "nstlib").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                statements = sum(isinstance(n, ast.stmt) for n in ast.walk(node)) - 1
                if statements > 50:
                    long.append(f"{path.name}:{node.name} ({statements} statements)")
    assert not long
    # ruff's mccabe check (max-complexity 10, pyproject.toml) and the formatter, on the whole tree
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "C90", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout


def test_the_library_pages_python_example_uses_names_nstlib_has():
    """docs/library.md's Python example parses, and every nl.<name> and keyword it uses exists."""
    import ast
    import inspect

    import nstlib as nl

    page = (ROOT / "docs" / "library.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    tree = ast.parse(code)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
    used = {n.func.attr: n for n in calls if isinstance(n.func.value, ast.Name) and n.func.value.id == "nl"}
    assert {"stylize", "load_tensor", "save_image", "result_ratios"} <= set(used)
    for name, call in used.items():
        parameters = inspect.signature(getattr(nl, name)).parameters
        assert all(k.arg in parameters for k in call.keywords), (name, [k.arg for k in call.keywords])


def test_the_readme_is_short_and_shows_pictures_first():
    """At most 150 lines, the gallery in its first screen (a small JPEG), then the quick start."""
    readme = (ROOT / "README.md").read_text()
    lines = readme.splitlines()
    assert len(lines) <= 150
    pictures = [(i, m) for i, line in enumerate(lines) for m in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", line)]
    assert pictures and pictures[0][0] < 10
    gallery = ROOT / pictures[0][1]
    assert gallery.parent == ROOT / "img" / "readme" and gallery.suffix == ".jpg"
    assert 10_000 < gallery.stat().st_size <= 150_000
    headings = [line for line in lines if line.startswith("## ")]
    assert headings[:3] == ["## Quick start (Python 3.10–3.13)", "## The chapters", "## Tests"]


def test_links_between_readme_and_docs_resolve():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) >= 7
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not target.startswith("http") and not (page.parent / target).exists():
                broken.append(f"{page.name}: {target}")
    assert not broken
    readme = (ROOT / "README.md").read_text()
    assert all(f"(docs/{p.name})" in readme for p in pages[1:])  # every page is linked


def test_readme_docs_and_library_name_no_issue_numbers():
    """A reader cannot open a tracker's issue: say what was measured instead."""
    files = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "nstlib").glob("*.py")]
    files += [*(ROOT / "tests").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    files += [f for f in (ROOT / "tools").iterdir() if f.suffix in (".py", ".sh")]
    found = [
        f"{f.name}: {m}" for f in files for m in re.findall(r"(?i)issue\s*#?\d+|#\d{1,3}\b", f.read_text())
    ]
    assert not found


def _nstlib_imports(path, modules: set[str]) -> set[str]:
    """The nstlib modules a file imports anywhere in it (function-local imports too), as dotted names."""
    import ast

    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            base = ".".join(anchor + ([node.module] if node.module else []))
            submodules = {f"{base}.{alias.name}" for alias in node.names} & modules
            found |= submodules or {base}  # `from . import vgg` imports nstlib.vgg, not all of nstlib
    return (found & modules) - {name}


def test_nstlib_has_no_import_cycles_and_the_course_plumbing_imports_downwards():
    """vgg < doctor < course: a lower module never imports a higher one, not even inside a function."""
    paths = sorted((ROOT / "nstlib").rglob("*.py"))
    names = [".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for p in paths]
    graph = {name: _nstlib_imports(path, set(names)) for name, path in zip(names, paths)}
    assert not graph["nstlib.vgg"] & {"nstlib.doctor", "nstlib.course"}
    assert "nstlib.course" not in graph["nstlib.doctor"]
    assert not graph["nstlib.install"] - {"nstlib.errors"}  # the bottom: no torch, nothing of the course
    assert graph["nstlib.course"] >= {"nstlib.install", "nstlib.doctor"}  # the parser sees imports

    def cycle_from(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module) :] + [module]
        for imported in sorted(graph[module]):
            found = cycle_from(imported, [*path, module])
            if found:
                return found
        return None

    cycles = [c for c in (cycle_from(name, []) for name in sorted(graph)) if c]
    assert not cycles, " -> ".join(cycles[0])
