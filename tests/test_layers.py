"""The import rule (issue #15): layers import one way, and query commands never load Beam.

    schemas  <-  transforms  <-  services  <-  pipelines  <-  the application

- schemas: the table and archive schemas (no project imports);
- transforms: the graph's composites and the pure functions under them;
Every package installs under `weir.` (setup.py maps the top-level folders pipelines/,
transforms/ and schemas/ to `weir.pipelines`, `weir.transforms`, `weir.schemas`); an import
of the bare names would find nothing in an installed copy, so it fails here too.

- services: the warehouses, Pub/Sub topology and local settings (`weir.warehouse`,
  `weir.pubsub` with its emulator, fallback server and publisher, `weir.config`), the
  sites' settings in the warehouse (`weir.sites`), and the user's-mistake error (`weir.usage`);
- pipelines: the graph and its runners (the local stream's runtime in pipelines/local/);
- the application: everything else in `weir` (the CLI and its commands, the collector,
  the generator, the bench).

A module may import its own layer and the layers below it, never above. The test parses
every module's imports (including imports inside functions), so adding an upward import
fails it.
"""

from __future__ import annotations

import ast
import glob
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = ("schemas", "transforms", "services", "pipelines", "application")
SERVICES = ("weir.warehouse", "weir.pubsub", "weir.config", "weir.sites", "weir.usage")


FOLDERS = ("schemas", "transforms", "pipelines")  # top-level folders installed as weir.<folder>


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "weir" or module == "weir":
        return None  # third-party, the standard library, or the bare package
    if parts[1] in FOLDERS:
        return parts[1]
    if any(module == s or module.startswith(s + ".") for s in SERVICES):
        return "services"
    return "application"


def modules() -> list[tuple[str, str]]:
    out = []
    for package in (*FOLDERS, "weir"):
        for path in glob.glob(os.path.join(REPO, package, "**", "*.py"), recursive=True):
            rel = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
            name = rel if package == "weir" else f"weir.{rel}"
            out.append((name[: -len(".__init__")] if name.endswith(".__init__") else name, path))
    return sorted(out)


def imports_of(path: str, module: str) -> set[str]:
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = module.split(".")[: -node.level] if not path.endswith("__init__.py") else module.split(".")
                found.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def upward_imports(module: str, path: str) -> list[str]:
    own = LAYERS.index(layer_of(module) or "application")  # `weir` itself: the application package
    bad = []
    for imported in sorted(imports_of(path, module)):
        if imported.split(".")[0] in FOLDERS:
            bad.append(f"{module} imports {imported}: installed as weir.{imported}")
            continue
        layer = layer_of(imported)
        if layer is not None and LAYERS.index(layer) > own:
            bad.append(f"{module} ({LAYERS[own]}) imports {imported} ({layer})")
    return bad


@pytest.mark.parametrize("module, path", modules(), ids=[m for m, _ in modules()])
def test_imports_run_one_way(module, path):
    assert upward_imports(module, path) == []


def test_the_rule_catches_an_upward_import(tmp_path):
    path = tmp_path / "x.py"
    path.write_text("def f():\n    from weir.pipelines.graph import build\n")
    assert upward_imports("weir.transforms.x", str(path)) == [
        "weir.transforms.x (transforms) imports weir.pipelines.graph (pipelines)",
        "weir.transforms.x (transforms) imports weir.pipelines.graph.build (pipelines)",
    ]


def test_the_rule_catches_a_bare_package_name(tmp_path):
    path = tmp_path / "x.py"
    path.write_text("import schemas\n")
    assert upward_imports("weir.transforms.x", str(path)) == [
        "weir.transforms.x imports schemas: installed as weir.schemas"
    ]


QUERY_COMMANDS = [
    ["sql", "SELECT 1"],
    ["verify", "--date", "2025-11-20"],
    ["compare", "--date", "2025-11-20", "--left", "web_analytics", "--right", "web_analytics"],
    ["plot", "--hours", "1", "--out", "{tmp}/p.png"],
]


@pytest.mark.parametrize("argv", QUERY_COMMANDS, ids=[a[0] for a in QUERY_COMMANDS])
def test_query_commands_do_not_import_beam(argv, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code = (
        "import sys\n"
        "from weir.cli import main\n"
        f"code = main({argv!r} + ['--home', {str(tmp_path / 'home')!r}])\n"
        "loaded = sorted(m for m in sys.modules if m == 'apache_beam' or m.startswith('apache_beam.'))\n"
        "print('BEAM', len(loaded), loaded[:3])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert "BEAM 0 []" in out.stdout, out.stdout + out.stderr
