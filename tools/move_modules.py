#!/usr/bin/env python3
"""Move gateway/'s modules into folders that are a request's walk (#17 item 4) and rewrite every reference to them.

Why a script and not a commit: the move touches nearly every file, while other branches change the same files; the
script is applied to the merged tree (and may be applied again: it is idempotent and tolerant).

What it does, in order:
1. Checks the tree: a module at the top of gateway/ (or in `steps/`, which is dissolved) that the mapping below does
   not know stops the script before anything is touched, with the list (add each to MOVES, or to TOP_MODULES).
   So does a move whose source and target both exist (unless the source is only a re-export shim of its target).
2. `git mv` each module or package to its new place (an entry whose source is gone is skipped: already moved, or
   renamed by another branch), creates each new folder's `__init__.py`, removes the emptied `steps/`.
3. Rewrites every reference in the repository's Python files (gateway/, tests/, bench/, contracts/, scripts/, cli.py):
   relative imports recomputed for each module's new depth (`from ..config import X` in `endpoints/docs.py` becomes
   `from ...settings.config import X` in `operator/endpoints/docs.py`), absolute `gw.x` imports, `import gw.x`
   and the `gw.x.y` attribute chains it allows, strings and comments that name modules (`"gw.x.attr"` mock and
   monkeypatch targets, `"gw.x:attr"`, code run in subprocesses, relative names given to `importlib.import_module`),
   and paths (`gateway/x.py`, `gw/admin/openapi.yaml`). Logger names that happen to equal a module name
   (`gw.specs`, `gw.contract`, `gw.reload`...) and the scope key `gw.exchange` are left alone: they are outside names.
4. Rewrites the text files (README.md and every other *.md, pyproject.toml): module paths and names; pyproject's
   `packages` list is recomputed from the folders and its `package-data` keys follow their packages.
(The import contracts of the new layout and tests/test_import_layers.py, which this script wrote when it was
applied, now live in pyproject.toml and tests/.)
5. Sorts the imports it touched (`ruff check --select I --fix`) and checks that every `gw` import in the tree
   resolves; what does not is listed (exit status 1).

Usage (from the repository root, in a clean git tree):
    python tools/move_modules.py            # move and rewrite
    python tools/move_modules.py --dry-run  # check the tree and print the moves; touch nothing
    python tools/move_modules.py --check    # only verify that every gw import resolves
A line holding `move_modules: keep` is never rewritten (bench/ lines that time checkouts of either layout).
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import shutil
import subprocess
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "gw"  # the installed name of the folder gateway/
FOLDER = "gateway"
KEEP_MARK = "move_modules: keep"

# The new folders, in the order a newcomer should read them (a request's walk, then what serves it), each with the
# docstring of its __init__.py.
PACKAGES: dict[str, str] = {
    "spec": "How a spec is loaded: read (YAML without alias bombs, or by URL), bundled across files, checked, drafts\n"
            "patched so they can be served, and indexed into services and operations (`load.Service`, `load.Operation`).",
    "settings": "What the operator asked for: gateway.yaml + `GW_...` environment variables + CLI flags, the policies'\n"
                "blocks and their per-operation overrides, `${NAME}` references, and `gw init`'s commented starting file.",
    "edge": "The steps every request walks before it is routed: client address, request id, the observers (metrics,\n"
            "access log, journal), hardening, CORS, cross-site checks, error answers, body limits and the body guard\n"
            "(a body cut short is never taken for a whole one), gw's own paths.",
    "routing": "Which operation a request is: the router, its route table (bucketed by path depth), and the request\n"
               "path normalised before routing.",
    "validation": "Is the request what its operation accepts: validators compiled once per operation, and every\n"
                  "OpenAPI parameter style and form encoding decoded into typed values.",
    "policies": "The steps that run once the operation is known: authenticate (the machinery is `auth/`), rate limits;\n"
                "and the policy lines `gw lint` prints.",
    "dispatch": "Mode dispatch: each request to its source (stub | live | record | spy | fallback) by the mode its\n"
                "service is in now (`runtime/modes.py`). The sources are `mocker/`, `stubs/`, `simulation/`,\n"
                "`forwarder/`; `chaos/` and `callbacks/` act on the answer as it leaves.",
    "contract": "The one judge of a value against a schema (`judge`, its compiled fast path, formats, ECMA-262\n"
                "patterns) and its users: does an answer honour the spec (`responses`, `streams`), the validation\n"
                "proxy step, and contract testing with schemathesis (`conformance/`).",
    "operator": "The operator surface and its read model: the admin API (`admin/`), the dashboard, gw's own URLs\n"
                "(`endpoints/`), Swagger UI, the request journal, metrics, live events, verification and cluster questions.",
    "runtime": "What lives between requests and across processes: shared state (memory or Redis), the runtime\n"
               "document every process follows, modes switched at runtime, sessions, hot reload, background loops.",
    "server": "Serving: uvicorn (one process or forked workers), connection limits in our protocol, a small answer\n"
              "in one write, the start-up banner.",
    "core": "The vocabulary every layer shares: `Exchange` and `Response`, the `Pipeline`, problem details, JSON\n"
            "parsed once and within limits, media types, streamed answers sent, logs, per-process random generators,\n"
            "wording, the CLI's consoles, the free-port check.",
}

# old module or package (below gw) -> new one. Packages move whole, data files included.
MOVES: dict[str, str] = {
    # spec/
    "specs": "spec.load",
    "spec_refs": "spec.refs",
    "spec_checks": "spec.checks",
    "spec_structure": "spec.structure",
    "spec_draft": "spec.draft",
    "spec_slips": "spec.slips",
    "spec_trial": "spec.trial",
    "spec_yaml": "spec.safe_yaml",
    "spec_fetch": "spec.fetch",
    "spec_nullable": "spec.nullable",
    "spec_loops": "spec.loops",
    "spec_copy": "spec.plain_copy",
    "spec_media_headers": "spec.media_headers",
    # settings/
    "config": "settings.config",
    "policy_settings": "settings.policy_settings",
    "env_refs": "settings.env_refs",
    "init_config": "settings.init_config",
    # each feature's settings block, read by settings/config.py: the settings sit below the features they configure
    "callbacks.settings": "settings.callbacks",
    "chaos.settings": "settings.chaos",
    "simulation.settings": "settings.simulation",
    # edge/
    "steps.client_address": "edge.client_address",
    "steps.request_id": "edge.request_id",
    "steps.metrics": "edge.metrics",
    "steps.access_log": "edge.access_log",
    "steps.journal": "edge.journal",
    "steps.hardening": "edge.hardening",
    "steps.cors": "edge.cors",
    "steps.cross_site": "edge.cross_site",
    "steps.errors": "edge.errors",
    "steps.body_limit": "edge.body_limit",
    "steps.own_paths": "edge.own_paths",
    "aborted": "edge.aborted",  # the body guard: used by edge/errors.py, so it cannot sit in server/ above app
    # routing/ and validation/
    "routing": "routing.router",
    "route_table": "routing.table",
    "request_path": "routing.paths",
    "validation": "validation.request",
    "serialization": "validation.serialization",
    # policies/
    "steps.authenticate": "policies.authenticate",
    "steps.rate_limit": "policies.rate_limit",
    "policy_listing": "policies.listing",
    # dispatch/ and the sources that stay folders
    "steps.dispatch": "dispatch.step",
    "websockets": "forwarder.websockets",
    "runtime_expressions": "callbacks.expressions",
    "error_answers": "mocker.error_answers",  # refusals in the documented shape are built by the mocker's negotiator
    # contract/
    "judge": "contract.judge",
    "compiled_schema": "contract.compiled_schema",
    "formats": "contract.formats",
    "native_formats": "contract.native_formats",
    "ecma_regex": "contract.ecma_regex",
    "contract": "contract.responses",
    "stream_contract": "contract.streams",
    "steps.response_contract": "contract.step",
    "conformance": "contract.conformance",
    # operator/
    "admin": "operator.admin",
    "dashboard": "operator.dashboard",
    "endpoints": "operator.endpoints",
    "swagger_ui": "operator.swagger_ui",
    "journal": "operator.journal",
    "metrics": "operator.metrics",
    "events": "operator.events",
    "verification": "operator.verification",
    "cluster": "operator.cluster",
    # runtime/
    "shared_state": "runtime.shared_state",
    "shared_document": "runtime.shared_document",
    "session": "runtime.session",
    "reload": "runtime.reload",
    "reload_worker": "runtime.reload_worker",
    "background": "runtime.background",
    "modes": "runtime.modes",  # modes switched at runtime (shared through Redis): runtime state that dispatch reads
    # server/
    "server": "server.runner",
    "workers": "server.workers",
    "connections": "server.connections",
    "whole_writes": "server.whole_writes",
    "banner": "server.banner",
    # core/
    "exchange": "core.exchange",
    "pipeline": "core.pipeline",
    "problems": "core.problems",
    "json_limits": "core.json_limits",
    "json_once": "core.json_once",
    "json_text": "core.json_text",
    "media_types": "core.media_types",
    "streaming": "core.streaming",
    "wording": "core.wording",
    "console": "core.console",
    "port_check": "core.port_check",
    "logs": "core.logs",  # JSON/text log lines: the access log step writes them too, not only the server
    "fork_safe": "core.fork_safe",  # per-process random generators: the balancer and chaos use them
}

TOP_MODULES = {"__init__", "app", "cli", "pytest_plugin"}  # stay at the top of gateway/
STAY_FOLDERS = {"auth", "mocker", "stubs", "simulation", "callbacks", "chaos", "forwarder"}  # keep their place
DISSOLVED = {"steps"}  # every module moves out; the folder goes
OUTSIDE_NAMES = {"gw.exchange"}  # scope key (exchange.py's SCOPE); logger names are collected from the code
TEXT_FILES = ("*.md", "pyproject.toml")
PY_ROOTS = ("gateway", "tests", "bench", "contracts", "scripts", "tools", "cli.py")
SKIP_DIRS = {".venv", ".git", "build", "dist", "__pycache__", "node_modules"}

# Literal edits the general rules cannot see (a folder named by its parts); each applied once (idempotent).
LITERAL_EDITS: list[tuple[str, str, str]] = [
    ("tests/test_package_layout.py",
     'PACKAGE_DATA = ("gw/admin/openapi.yaml", "gw/dashboard/templates/dashboard.html", "gw/dashboard/static/dashboard.js",\n'
     '                "gw/swagger_ui/swagger-ui-bundle.js", "gw/swagger_ui/swagger-ui.css", "gw/swagger_ui/LICENSE")',
     'PACKAGE_DATA = ("gw/operator/admin/openapi.yaml", "gw/operator/dashboard/templates/dashboard.html",\n'
     '                "gw/operator/dashboard/static/dashboard.js", "gw/operator/swagger_ui/swagger-ui-bundle.js",\n'
     '                "gw/operator/swagger_ui/swagger-ui.css", "gw/operator/swagger_ui/LICENSE")'),
    ("tests/test_package_layout.py", 'for folder in ("dashboard/templates", "dashboard/static", "swagger_ui")',
     'for folder in ("operator/dashboard/templates", "operator/dashboard/static", "operator/swagger_ui")'),
    # the listeners a publisher must not import, at their new names: `gw.events` is also a logger's name (so the
    # general rule keeps it), and `gw.operator` then held only the read model (operator/ now holds the journal too)
    ("tests/test_event_channel.py",
     'LISTENERS = ("gw.metrics", "gw.events", "gw.app", "gw.admin", "gw.endpoints", "gw.dashboard", "gw.operator")',
     'LISTENERS = ("gw.operator.metrics", "gw.operator.events", "gw.app", "gw.operator.admin", "gw.operator.endpoints",\n'
     '             "gw.operator.dashboard", "gw.operator.state")'),
    ("scripts/refresh_swagger_ui.py", '/ "gateway" / "swagger_ui"', '/ "gateway" / "operator" / "swagger_ui"'),
    ("bench/micro.py", "        from gw.config import config_for_specs\n",
     "        try:\n"
     "            from gw.settings.config import config_for_specs\n"
     "        except ImportError:  # a checkout from before the folders of #17: micro.py times either layout\n"
     "            from gw.config import config_for_specs  # move_modules: keep\n"),
    # bench/ scripts that time old checkouts too import the old name where the folder says so: keep it
    ("bench/micro.py", "            from gw.config import config_for_specs  # type: ignore[no-redef]\n",
     "            from gw.config import config_for_specs  # type: ignore[no-redef]  # move_modules: keep\n"),
    ("bench/hop.py", "        from gw.config import build_config  # type: ignore[no-redef]\n",
     "        from gw.config import build_config  # type: ignore[no-redef]  # move_modules: keep\n"),
    ("gateway/__init__.py", '"""gw: a mock-first developer gateway driven by OpenAPI specs."""',
     '"""gw: a mock-first developer gateway driven by OpenAPI specs.\n\n'
     "The folders read in the order a request meets them: `spec/` (how a spec is loaded), `settings/`, `edge/`\n"
     "(steps before routing), `routing/`, `validation/`, `policies/`, `dispatch/` (to `mocker/`, `stubs/`,\n"
     "`simulation/` or `forwarder/`, with `chaos/` and `callbacks/` on the way out), `contract/` (the one judge),\n"
     "`operator/` (admin API, dashboard, journal, metrics, events); then `runtime/`, `server/` and `core/`.\n"
     '`app.py` assembles the pipeline, `cli.py` is the `gw` command.\n"""'),
]

DOTTED = re.compile(r"(?<![\w.])gw(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"(?<![\w./-])(gateway|gw)/([A-Za-z_][\w./-]*)")
RELATIVE_NAME = re.compile(r"\.+(?:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)?")
IMPORT_CONTEXT = re.compile(r"\b(?:from|import)\s+(?:[\w.]+(?:\s+as\s+\w+)?\s*,\s*)*$")


class Stop(Exception):
    """The tree is not what the mapping knows: nothing was touched."""


@dataclass
class Tree:
    """The modules of gateway/ before the move, and what the move makes of them."""

    root: Path
    before: dict[str, Path]  # dotted module or package -> its file (a package: its __init__.py)
    kinds: dict[str, str] = field(default_factory=dict)  # MOVES entry (full name) -> "module" | "package"
    moves: dict[str, str] = field(default_factory=dict)  # full old name -> full new name, every entry
    after: set[str] = field(default_factory=set)
    origin: dict[Path, str] = field(default_factory=dict)  # file after the move -> its dotted name before
    inits: dict[str, set[str]] = field(default_factory=dict)  # package after the move -> names its __init__ binds
    outside: set[str] = field(default_factory=set)  # names that look like modules but are loggers or scope keys

    def folder(self) -> Path:
        return self.root / FOLDER


def full(name: str) -> str:
    return f"{PACKAGE}.{name}" if name else PACKAGE


def scan(root: Path) -> dict[str, Path]:
    """Every module and package of gateway/, by dotted name."""
    folder = root / FOLDER
    found = {}
    for path in sorted(folder.rglob("*.py")):
        if SKIP_DIRS & set(path.relative_to(folder).parts):
            continue
        parts = list(path.relative_to(folder).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join([PACKAGE, *parts])] = path
    return found


def path_of(root: Path, dotted: str) -> tuple[Path, Path]:
    """The file and the folder a dotted name would have."""
    parts = dotted.split(".")[1:]
    base = root / FOLDER
    return base.joinpath(*parts).with_suffix(".py") if parts else base / "__init__.py", base.joinpath(*parts)


# ---------------------------------------------------------------------------------------------------------- planning

@dataclass
class Plan:
    moves: list[tuple[Path, Path]] = field(default_factory=list)
    shims: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)


def plan(tree: Tree) -> Plan:
    """What to move, checked first: unknown modules and real conflicts stop the script."""
    root, before = tree.root, tree.before
    unknown, conflicts, result = [], [], Plan()
    known = set(tree.moves)
    for name in before:
        parts = name.split(".")[1:]
        if not parts:
            continue
        top = parts[0]
        if len(parts) == 1 and before[name].name != "__init__.py":
            if top not in TOP_MODULES and full(top) not in known:
                unknown.append(f"{FOLDER}/{top}.py")
        elif top in DISSOLVED and len(parts) > 1 and name not in known:
            unknown.append(f"{FOLDER}/{'/'.join(parts)}.py")
        elif len(parts) == 1 and top not in PACKAGES and top not in STAY_FOLDERS and top not in DISSOLVED \
                and full(top) not in known:
            unknown.append(f"{FOLDER}/{top}/")
    if unknown:
        raise Stop("modules the mapping does not know (add each to MOVES, TOP_MODULES or STAY_FOLDERS in "
                   "tools/move_modules.py):\n  " + "\n  ".join(sorted(unknown)))
    for old, new in tree.moves.items():
        old_file, old_dir = path_of(root, old)
        new_file, new_dir = path_of(root, new)
        kind = tree.kinds.get(old)
        if kind == "module":
            if old_file.exists() and new_file.exists():
                if is_shim(old_file, new):
                    result.shims.append(old_file)
                else:
                    conflicts.append(f"{rel(root, old_file)} and {rel(root, new_file)} both exist")
            elif old_file.exists():
                result.moves.append((old_file, new_file))
            else:
                result.done.append(old)
        elif kind == "package":
            if (old_dir / "__init__.py").exists() and new_dir.exists():
                conflicts.append(f"{rel(root, old_dir)}/ and {rel(root, new_dir)}/ both exist")
            elif (old_dir / "__init__.py").exists():
                result.moves.append((old_dir, new_dir))
            else:
                result.done.append(old)
        else:
            result.skipped.append(old)
    if conflicts:
        raise Stop("moves whose source and target both exist (merge them by hand, then run again):\n  "
                   + "\n  ".join(conflicts))
    return result


def is_shim(path: Path, target: str) -> bool:
    """A module that only re-exports its new home (left behind by a branch that moved it): safe to remove."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] == target.split(".")[-1]:
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            continue
        return False
    return True


def rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def prepare(root: Path) -> Tree:
    """The tree before the move, the kind of each entry, and the names after it."""
    before = scan(root)
    tree = Tree(root, before, moves={full(old): full(new) for old, new in MOVES.items()})
    for old, new in tree.moves.items():
        (old_file, old_dir), (new_file, new_dir) = path_of(root, old), path_of(root, new)
        if old_file.exists() or new_file.exists():
            tree.kinds[old] = "module"
        elif (old_dir / "__init__.py").exists() or (new_dir / "__init__.py").exists():
            tree.kinds[old] = "package"
    for name, path in before.items():
        new = moved(tree, name)
        tree.after.add(new)
        target_file, target_dir = path_of(root, new)
        target = target_dir / "__init__.py" if path.name == "__init__.py" else target_file
        tree.origin[target] = name
    for name in list(tree.after):
        parts = name.split(".")
        tree.after.update(".".join(parts[:i]) for i in range(1, len(parts)))
    for steps in DISSOLVED:
        if not any(n.startswith(full(steps) + ".") for n in tree.after):
            tree.after.discard(full(steps))
    tree.outside = OUTSIDE_NAMES | logger_names(root)
    return tree


def moved(tree: Tree, name: str) -> str:
    """Where a module of the tree before the move is after it (packages carry their modules along)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in tree.moves and (i == len(parts) or tree.kinds.get(prefix) == "package"):
            return ".".join([tree.moves[prefix], *parts[i:]])
    return name


def logger_names(root: Path) -> set[str]:
    """Logger names given as literals (`logging.getLogger("gw.specs")`): outside names, never rewritten."""
    names = set()
    for path in python_files(root):
        for node in ast.walk(parse(path) or ast.Module(body=[], type_ignores=[])):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "getLogger":
                names.update(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
    return {name for name in names if name.startswith(PACKAGE + ".")}


# ----------------------------------------------------------------------------------------------------------- moving

def git(root: Path, *args: str) -> bool:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True).returncode == 0


def apply_plan(tree: Tree, steps: Plan) -> None:
    root = tree.root
    for shim in steps.shims:
        if not git(root, "rm", "-q", "-f", str(shim)):
            shim.unlink()
    for source, target in steps.moves:
        target.parent.mkdir(parents=True, exist_ok=True)
        if not git(root, "mv", str(source), str(target)):
            shutil.move(str(source), str(target))  # not tracked by git (yet): moved all the same
    for name, doc in PACKAGES.items():
        init = tree.folder() / name / "__init__.py"
        if init.parent.is_dir() and not init.exists():
            init.write_text(f'"""{doc}"""\n', encoding="utf-8")
            git(root, "add", str(init))
    for name in DISSOLVED:
        folder = tree.folder() / name
        left = [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts] if folder.exists() else []
        if [p.name for p in left] == ["__init__.py"]:
            if not git(root, "rm", "-q", "-f", str(left[0])):
                left[0].unlink()
            shutil.rmtree(folder, ignore_errors=True)


# -------------------------------------------------------------------------------------------------------- renaming

def rename(tree: Tree, dotted: str, exact_old: bool = True) -> str:
    """The name after the move of a dotted name written before it (a module, or a module and an attribute).

    A name that already is a module of the new layout stays; when an old module's name is now a folder's
    (`gw.routing` was routing.py and is the folder routing/), a following attribute the folder's __init__ does
    not define is taken as the old module's (`gw.routing.Router` -> `gw.routing.router.Router`). The bare name
    (`gw.routing`) is the old module in code (`exact_old`), the folder in prose and pyproject's contracts.
    """
    parts = dotted.split(".")
    if parts[0] != PACKAGE:
        return dotted
    existing = max((i for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in tree.after), default=0)
    entry = max((i for i in range(2, len(parts) + 1) if ".".join(parts[:i]) in tree.moves), default=0)
    if entry == 0 or existing > entry:
        return dotted
    prefix = ".".join(parts[:entry])
    if existing == entry and entry == len(parts) and not exact_old:
        return dotted
    if existing == entry and entry < len(parts) and parts[entry] in tree.inits.get(prefix, set()):
        return dotted
    if tree.kinds.get(prefix) == "module" and existing == entry and entry < len(parts) \
            and ".".join(parts[:entry + 1]) in tree.after:
        return dotted
    return ".".join([tree.moves[prefix], *parts[entry:]])


def is_module(tree: Tree, dotted: str) -> bool:
    return dotted in tree.before or dotted in tree.moves or dotted in tree.after


def resolve(package: str, level: int, module: str | None) -> str:
    parts = package.split(".")
    if level > 1:
        parts = parts[:len(parts) - (level - 1)]
    return ".".join(parts + ([module] if module else []))


def relative(package: str, target: str) -> str:
    """`target` written relative to `package` (both dotted, same root)."""
    mine, theirs = package.split("."), target.split(".")
    common = 0
    while common < min(len(mine), len(theirs)) and mine[common] == theirs[common]:
        common += 1
    return "." * (len(mine) - common + 1) + ".".join(theirs[common:])


def rename_path(tree: Tree, prefix: str, path: str) -> str:
    """`gateway/config.py` -> `gateway/settings/config.py`; `gw/admin/openapi.yaml` -> `gw/operator/admin/openapi.yaml`."""
    parts = path.split("/")
    for i in range(len(parts), 0, -1):
        head = parts[:i]
        if head[-1].endswith(".py"):
            dotted = ".".join([PACKAGE, *head[:-1], head[-1][:-3]])
            if tree.kinds.get(dotted) == "module" and dotted in tree.moves:
                new = tree.moves[dotted].split(".")[1:]
                return f"{prefix}/" + "/".join([*new[:-1], new[-1] + ".py", *parts[i:]])
        else:
            dotted = ".".join([PACKAGE, *head])
            if tree.kinds.get(dotted) == "package" and dotted in tree.moves:
                new = tree.moves[dotted].split(".")[1:]
                return f"{prefix}/" + "/".join([*new, *parts[i:]])
    return f"{prefix}/{path}"


def rewrite_text(tree: Tree, text: str, code: bool = True) -> str:
    """Module names and module paths in strings and comments (`code`), or in prose and settings files."""
    def dotted(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in tree.outside and not IMPORT_CONTEXT.search(text[max(0, match.start() - 200):match.start()]
                                                                .rsplit("\n", 1)[-1]):
            return token
        return rename(tree, token, exact_old=code)

    text = DOTTED.sub(dotted, text)
    return PATH.sub(lambda m: rename_path(tree, m.group(1), m.group(2)), text)


# ------------------------------------------------------------------------------------------------ python rewriting

def python_files(root: Path) -> list[Path]:
    files = []
    for top in PY_ROOTS:
        path = root / top
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [p for p in sorted(path.rglob("*.py")) if not SKIP_DIRS & set(p.relative_to(root).parts)]
    return [p for p in files if p.resolve() != Path(__file__).resolve()]


def parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (SyntaxError, UnicodeDecodeError):
        return None


class Source:
    """A file's text with edits addressed by (line, column in characters); applied back to front."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))
        self.edits: list[tuple[int, int, str]] = []

    def offset(self, line: int, column_bytes: int) -> int:
        raw = self.lines[line - 1].encode("utf-8")[:column_bytes]
        return self.starts[line - 1] + len(raw.decode("utf-8", errors="replace"))

    def node_span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
                self.offset(node.end_lineno, node.end_col_offset))  # type: ignore[attr-defined]

    def kept(self, start: int) -> bool:
        line = self.text.count("\n", 0, start)
        return KEEP_MARK in self.lines[line] if line < len(self.lines) else False

    def replace(self, start: int, end: int, new: str) -> None:
        if self.text[start:end] != new and not self.kept(start):
            self.edits.append((start, end, new))

    def result(self) -> str:
        text = self.text
        taken: list[tuple[int, int]] = []
        for start, end, new in sorted(self.edits, key=lambda e: e[0], reverse=True):
            if any(start < b and a < end for a, b in taken):
                continue  # nested in an edit already made (a string inside a rewritten statement)
            text = text[:start] + new + text[end:]
            taken.append((start, end))
        return text


def own_package(tree: Tree, path: Path, after: bool) -> str | None:
    """The package a file's relative imports start from, before or after the move (None: not in gateway/)."""
    if not path.is_relative_to(tree.folder()):
        return None
    parts = [PACKAGE, *path.relative_to(tree.folder()).with_suffix("").parts]
    now = ".".join(parts[:-1]) if parts[-1] == "__init__" else ".".join(parts)
    name = now if after else tree.origin.get(path, now)
    return name if path.name == "__init__.py" else name.rsplit(".", 1)[0]


def rewrite_import_from(tree: Tree, source: Source, node: ast.ImportFrom, old_pkg: str | None, new_pkg: str | None) -> None:
    if node.level:
        if old_pkg is None:
            return
        base = resolve(old_pkg, node.level, node.module)
    elif (node.module or "").split(".")[0] == PACKAGE:
        base = node.module or ""
    else:
        return
    if base.split(".")[0] != PACKAGE:
        return
    entries: list[tuple[str, str, str | None]] = []  # (new base, name, alias)
    for alias in node.names:
        whole = f"{base}.{alias.name}"
        if alias.name != "*" and is_module(tree, whole) and rename(tree, whole) != whole:
            target = rename(tree, whole)
            new_base, last = target.rsplit(".", 1)
            entries.append((new_base, last, alias.asname or (alias.name if last != alias.name else None)))
        elif alias.name == "*":
            entries.append((rename(tree, base), "*", None))
        else:
            new_base = rename(tree, whole).rsplit(".", 1)[0] if rename(tree, whole) != whole else base
            entries.append((new_base, alias.name, alias.asname))

    def spelled(new_base: str) -> str:
        if node.level and new_pkg is not None:
            return relative(new_pkg, new_base)
        return new_base

    start, end = source.node_span(node)
    original = source.text[start:end]
    bases = list(dict.fromkeys(e[0] for e in entries))
    unchanged_names = all(e[1] == a.name and e[2] == a.asname for e, a in zip(entries, node.names, strict=True))
    if len(bases) == 1 and unchanged_names:
        match = re.match(r"from\s+([.\w]+)\s+import", original)
        if match and match.group(1) != spelled(bases[0]):
            source.replace(start + match.start(1), start + match.end(1), spelled(bases[0]))
        return
    indent = " " * node.col_offset  # imports start their line; col_offset counts spaces
    lines = []
    for new_base in bases:
        names = ", ".join(f"{n} as {a}" if a else n for b, n, a in entries if b == new_base)
        lines.append(f"from {spelled(new_base)} import {names}")
    source.replace(start, end, ("\n" + indent).join(lines))


def rewrite_import(tree: Tree, source: Source, node: ast.Import) -> None:
    if not any(a.name.split(".")[0] == PACKAGE for a in node.names):
        return
    names = []
    for alias in node.names:
        name = rename(tree, alias.name) if alias.name.split(".")[0] == PACKAGE else alias.name
        names.append(f"{name} as {alias.asname}" if alias.asname else name)
    start, end = source.node_span(node)
    source.replace(start, end, "import " + ", ".join(names))


def attribute_chain(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id == PACKAGE:
        return ".".join([PACKAGE, *reversed(parts)])
    return None


def rewrite_python(tree: Tree, path: Path) -> str | None:
    """The file with every reference rewritten (None: unchanged or unreadable)."""
    text = path.read_text(encoding="utf-8")
    module = parse(path)
    if module is None:
        return None
    source = Source(text)
    old_pkg, new_pkg = own_package(tree, path, after=False), own_package(tree, path, after=True)
    uses_import_module = "import_module(" in text
    binds_package = any(isinstance(n, ast.Import) and any(a.asname is None and a.name.split(".")[0] == PACKAGE
                                                          for a in n.names) for n in ast.walk(module))
    chains_done: set[int] = set()
    strings_in_fstrings: set[int] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.JoinedStr):
            strings_in_fstrings.update(id(v) for v in ast.walk(node) if v is not node)
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom):
            rewrite_import_from(tree, source, node, old_pkg, new_pkg)
        elif isinstance(node, ast.Import):
            rewrite_import(tree, source, node)
        elif binds_package and isinstance(node, ast.Attribute) and id(node) not in chains_done:
            chain = attribute_chain(node)
            if chain is not None:
                chains_done.update(id(n) for n in ast.walk(node))
                start, end = source.node_span(node)
                new = rename(tree, chain)
                if new != chain and source.text[start:end] == chain:
                    source.replace(start, end, new)
        elif isinstance(node, ast.Constant | ast.JoinedStr) and id(node) not in strings_in_fstrings:
            if isinstance(node, ast.Constant) and not isinstance(node.value, str):
                continue
            start, end = source.node_span(node)
            segment = source.text[start:end]
            if uses_import_module and isinstance(node, ast.Constant) and RELATIVE_NAME.fullmatch(node.value) \
                    and old_pkg and new_pkg:
                target = resolve(old_pkg, len(node.value) - len(node.value.lstrip(".")), node.value.lstrip(".") or None)
                if is_module(tree, target):
                    new_name = relative(new_pkg, rename(tree, target))
                    source.replace(start, end, segment.replace(node.value, new_name, 1))
                continue
            source.replace(start, end, rewrite_text(tree, segment))
    for token in comments(text):
        (line, column), (_, end_column) = token.start, token.end
        start = source.starts[line - 1] + column
        end = source.starts[line - 1] + end_column
        source.replace(start, end, rewrite_text(tree, text[start:end]))
    new_text = source.result()
    return new_text if new_text != text else None


def comments(text: str) -> list[tokenize.TokenInfo]:
    try:
        return [t for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError):
        return []


# ------------------------------------------------------------------------------------------------ text rewriting

def text_files(root: Path) -> list[Path]:
    files = []
    for pattern in TEXT_FILES:
        files += [p for p in sorted(root.rglob(pattern)) if not SKIP_DIRS & set(p.relative_to(root).parts)]
    return files


def rewrite_pyproject(tree: Tree, text: str) -> str:
    """Names rewritten; the `packages` list recomputed from the folders with an __init__.py."""
    text = rewrite_text(tree, text, code=False)
    folder = tree.folder()
    packages = sorted(".".join((PACKAGE, *init.parent.relative_to(folder).parts)).rstrip(".")
                      for init in folder.rglob("__init__.py") if "__pycache__" not in init.parts)
    match = re.search(r"^packages = \[[^\]]*\]", text, flags=re.MULTILINE)
    if not match:
        return text
    lines, line = [], "packages = ["
    for i, name in enumerate(packages):
        piece = f'"{name}"' + (", " if i < len(packages) - 1 else "]")
        if len(line) + len(piece.rstrip()) > 120:
            lines.append(line.rstrip())
            line = " " * 12
        line += piece
    lines.append(line)
    text = text[:match.start()] + "\n".join(lines) + text[match.end():]
    return text


# ------------------------------------------------------------------------------------------------------- checking

def unresolved(root: Path) -> list[str]:
    """Every `gw` import in the repository's Python files that names no module, or a name its module lacks."""
    modules = scan(root)
    problems = []
    for path in python_files(root):
        module = parse(path)
        if module is None:
            problems.append(f"{rel(root, path)}: does not parse")
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        package = None
        if path.is_relative_to(root / FOLDER):
            parts = [PACKAGE, *path.relative_to(root / FOLDER).with_suffix("").parts]
            package = ".".join(parts[:-1])
        for node in ast.walk(module):
            if isinstance(node, ast.Import | ast.ImportFrom) and KEEP_MARK in lines[node.lineno - 1]:
                continue
            if isinstance(node, ast.ImportFrom):
                if node.level and package is None:
                    continue
                base = resolve(package, node.level, node.module) if node.level else (node.module or "")
                if base.split(".")[0] != PACKAGE:
                    continue
                if base not in modules:
                    problems.append(f"{rel(root, path)}:{node.lineno}: no module {base}")
                    continue
                for alias in node.names:
                    if alias.name != "*" and f"{base}.{alias.name}" not in modules \
                            and not defines(modules[base], alias.name):
                        problems.append(f"{rel(root, path)}:{node.lineno}: {base} has no {alias.name}")
            elif isinstance(node, ast.Import):
                problems += [f"{rel(root, path)}:{node.lineno}: no module {a.name}" for a in node.names
                             if a.name.split(".")[0] == PACKAGE and a.name not in modules]
    return problems


def bound_names(path: Path) -> set[str]:
    """Names a module binds at its top level (including under `if TYPE_CHECKING:` and `try:`), and its PEP 562 names."""
    module = parse(path)
    if module is None:
        return set()
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
                if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in ("__all__", "_HOMES")
                                                        for t in node.targets):
                    names.update(v.value for v in ast.walk(node.value) if isinstance(v, ast.Constant)
                                 and isinstance(v.value, str))
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
    visit(module.body)
    return names


def defines(path: Path, name: str) -> bool:
    return name in bound_names(path)


# ------------------------------------------------------------------------------------------------------------ main

def run(root: Path, dry_run: bool, fix_imports: bool) -> int:
    tree = prepare(root)
    steps = plan(tree)
    for old in steps.skipped:
        print(f"skipped: {old} -> {tree.moves[old]} (neither exists: renamed or removed by another change)")
    for old in steps.done:
        print(f"already moved: {old} -> {tree.moves[old]}")
    for source, target in steps.moves:
        print(f"move: {rel(root, source)} -> {rel(root, target)}")
    for shim in steps.shims:
        print(f"remove re-export shim: {rel(root, shim)}")
    if dry_run:
        return 0
    apply_plan(tree, steps)
    with_inits(tree, root)
    changed = []
    for relative_path, old, new in LITERAL_EDITS:  # first: the general rules then leave the new names alone
        path = root / relative_path
        if path.exists() and old in (text := path.read_text(encoding="utf-8")) and new not in text:
            path.write_text(text.replace(old, new), encoding="utf-8")
            changed.append(path)
    for path in python_files(root):
        new_text = rewrite_python(tree, path)
        if new_text is not None:
            path.write_text(new_text, encoding="utf-8")
            changed.append(path)
    for path in text_files(root):
        text = path.read_text(encoding="utf-8")
        new_text = rewrite_pyproject(tree, text) if path.name == "pyproject.toml" else rewrite_text(tree, text, code=False)
        if new_text != text:
            path.write_text(new_text, encoding="utf-8")
            changed.append(path)
    changed = list(dict.fromkeys(changed))
    print(f"rewrote {len(changed)} files")
    python_changed = [str(p) for p in changed if p.suffix == ".py"]
    if fix_imports and python_changed:
        ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
        subprocess.run([ruff, "check", "-q", "--select", "I", "--fix", *python_changed], cwd=root)
        long_lines = subprocess.run([ruff, "check", "-q", "--select", "E501", "--output-format", "concise",
                                     *python_changed], cwd=root, capture_output=True, text=True).stdout.strip()
        if long_lines:
            print(f"lines made too long by longer names (wrap them by hand):\n{long_lines}")
    problems = unresolved(root)
    for problem in problems:
        print(f"unresolved: {problem}")
    return 1 if problems else 0


def with_inits(tree: Tree, root: Path) -> Tree:
    """The names each package of the new layout binds in its __init__.py (for `gw.routing.X`: folder or old module?)."""
    for name in tree.after:
        init = path_of(root, name)[1] / "__init__.py"
        if init.exists():
            tree.inits[name] = bound_names(init)
    return tree


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--dry-run", action="store_true", help="print the plan; touch nothing")
    parser.add_argument("--check", action="store_true", help="only check that every gw import resolves")
    parser.add_argument("--no-ruff", action="store_true", help="do not sort the rewritten imports with ruff")
    args = parser.parse_args()
    root = args.root.resolve()
    if args.check:
        problems = unresolved(root)
        print("\n".join(f"unresolved: {p}" for p in problems) or "every gw import resolves")
        return 1 if problems else 0
    try:
        return run(root, args.dry_run, not args.no_ruff)
    except Stop as stop:
        print(f"move_modules: stopped, nothing touched: {stop}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
