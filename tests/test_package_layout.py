"""The installed distribution owns one top-level name, `gw`: the repository's folder gateway/ installed under it.

Nothing named `cli` or `gateway` lands in site-packages, the console script and the pytest plugin point into
`gw`, and the pytest plugin (loaded by every pytest run in a venv with gw) imports nothing heavy until a
fixture is used.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytest_plugins = ["pytester"]

HEAVY = ("connexion", "schemathesis", "starlette", "jsonschema", "aiohttp", "uvicorn", "flask", "hypothesis", "httpx",
         "requests", "responses", "yaml", "rich", "typer")
PACKAGE_DATA = ("gw/operator/admin/openapi.yaml", "gw/operator/dashboard/templates/dashboard.html",
                "gw/operator/dashboard/static/dashboard.js", "gw/operator/swagger_ui/swagger-ui-bundle.js",
                "gw/operator/swagger_ui/swagger-ui.css", "gw/operator/swagger_ui/LICENSE")
OLD_NAME = re.compile(r"\bfrom\s+gateway(\.\w+)*\s+import\b|\bimport\s+gateway(\.\w+)*\s*($|[;,]|\s+as\b)"  # code in strings
                      r"|^gateway(\.(?!ya?ml$)[a-z_]+)+(:[a-z_]+)?$")  # a module's name: mock targets, uvicorn's app


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_folder_of_gateway_with_an_init_is_a_listed_package() -> None:
    folder = ROOT / "gateway"
    on_disk = {".".join(("gw", *init.parent.relative_to(folder).parts)) for init in folder.rglob("__init__.py")}
    listed = set(pyproject()["tool"]["setuptools"]["packages"])
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - on_disk == set(), "these listed packages have no folder with an __init__.py under gateway/"


def test_the_console_script_and_the_pytest_plugin_point_into_gw() -> None:
    project = pyproject()["project"]
    assert project["scripts"] == {"gw": "gw.cli:main"}
    assert project["entry-points"]["pytest11"] == {"gw": "gw.pytest_plugin"}


def _old_names(path: Path) -> list[str]:
    """Imports of `gateway` by that name, and strings naming its modules (`"gateway.x.y"`), in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"{path}:{node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] == "gateway"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "gateway":
            found.append(f"{path}:{node.lineno}: from {node.module} import")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and OLD_NAME.search(node.value):
            found.append(f"{path}:{node.lineno}: {node.value[:80]!r}")
    return found


def test_nothing_imports_the_package_by_its_folder_name() -> None:
    """One copy of each module per process: `gateway.x` and `gw.x` would be two, with two sets of globals."""
    files = [ROOT / "cli.py", *[p for top in ("gateway", "tests", "contracts", "bench", "scripts")
                                for p in (ROOT / top).rglob("*.py") if p.name != Path(__file__).name]]
    found = [line for path in files for line in _old_names(path)]
    assert found == []


def test_the_rule_catches_the_old_names_and_spares_the_file_name() -> None:
    for text in ("from gateway.app import build_app", "import gateway", "gateway.server:worker_app", "gateway.stubs.persister"):
        assert OLD_NAME.search(text), text
    for text in ("gateway.yaml", "gateway.yml", "the gateway answers", "a gateway.", "settings from gateway.yaml",
                 "from gateway.yaml", "what the gateway imports from the spec", "import gateway.yaml into"):
        assert not OLD_NAME.search(text), text


def _fresh_python(code: str, cwd: Path) -> str:
    """Run code in a fresh interpreter outside the repository (so `gw` is the installed package)."""
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True, timeout=60).stdout


def test_loading_the_pytest_plugin_imports_only_pytest_and_the_standard_library(tmp_path: Path) -> None:
    before = set(_fresh_python("import sys, pytest; print('\\n'.join(sys.modules))", tmp_path).split())
    after = set(_fresh_python("import sys, pytest, gw.pytest_plugin; print('\\n'.join(sys.modules))", tmp_path).split())
    added = {name.split(".")[0] for name in after - before}
    assert added - set(sys.stdlib_module_names) == {"gw"}
    assert {name for name in after if name.split(".")[0] in HEAVY} <= {name for name in before if name.split(".")[0] in HEAVY}
    assert {name for name in after - before if name.startswith("gw.")} == {"gw.pytest_plugin"}


def test_an_unrelated_test_run_gains_no_module_and_no_warning_from_gw(pytester: pytest.Pytester) -> None:
    """The same unrelated test file run with gw's plugin and without it (`-p no:gw`): only gw's own modules differ."""
    pytester.makepyfile(test_unrelated="""
        import json, os, sys

        def test_plain(request):
            with open(os.environ["MODULES_OUT"], "w") as out:
                json.dump({"gw": request.config.pluginmanager.has_plugin("gw"), "modules": sorted(sys.modules)}, out)
        """)
    seen = {}
    for run, flags in (("with", ()), ("without", ("-p", "no:gw"))):
        pytester._monkeypatch.setenv("MODULES_OUT", str(pytester.path / f"{run}.json"))
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error", "-rw", *flags)
        result.assert_outcomes(passed=1, warnings=0)
        assert "warnings summary" not in result.stdout.str()
        seen[run] = json.loads((pytester.path / f"{run}.json").read_text())
    assert seen["with"]["gw"] and not seen["without"]["gw"]  # auto-loaded through its entry point
    gained = set(seen["with"]["modules"]) - set(seen["without"]["modules"])
    assert gained == {"gw", "gw.pytest_plugin"}


def test_python_cli_py_in_the_repository_still_runs_gw() -> None:
    done = subprocess.run([sys.executable, "cli.py", "--version"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("gw ")


def test_the_cli_runs_as_a_module_of_the_installed_package_from_anywhere(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "gw.cli", "--version"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("gw ")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel `pip wheel` builds from a copy of what the distribution is made of (no build/ left in the repo)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "gateway", source / "gateway", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                           str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [built] = out.glob("gw-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_holds_one_top_level_package_gw_and_its_metadata(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/")[0] for name in wheel.namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"gw"}
    assert "gw/cli.py" in wheel.namelist() and "gw/pytest_plugin.py" in wheel.namelist()
    entry_points = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    text = wheel.read(entry_points).decode()
    assert "gw = gw.cli:main" in text and "gw = gw.pytest_plugin" in text


def test_the_wheel_carries_the_package_data(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert [name for name in PACKAGE_DATA if name not in names] == []
    static = {f"gw/{p.relative_to(ROOT / 'gateway').as_posix()}"
              for folder in ("operator/dashboard/templates", "operator/dashboard/static", "operator/swagger_ui")
              for p in (ROOT / "gateway" / folder).iterdir() if p.is_file() and p.suffix != ".pyc"}
    assert static - names == set()
