"""The library's layering, read from the source with ``ast`` (nothing is imported):

- nothing in ``pricecast/`` imports ``streamlit``, ``ui`` or ``pages`` (anywhere, also inside functions);
- every import between pricecast modules is an edge the table below allows (docs/ARCHITECTURE.md's
  "may import" column, made exact);
- no import cycles among module-level imports (also counting those for type checkers only); the
  cycles that imports inside functions still close are exactly the ones listed in ``KNOWN_CYCLES``
  (remove an entry when its cycle is broken);
- TensorFlow/Keras at module level only in ``KERAS_MODULES``, and no other module pulls them in
  through its module-level imports (so opening the dashboard or ``pricecast data ...`` never loads them).

Module names are relative to ``pricecast`` ("market.loader"). A table entry names a module or a
package ("market" also covers "market.loader"). After modules move into subpackages, update the
tables here; the tests print every offending edge.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "pricecast"

FORBIDDEN_ROOTS = ("streamlit", "ui", "pages")
KERAS_ROOTS = ("keras", "tensorflow")
# The modules that may import Keras at module level; everyone else imports them inside functions.
KERAS_MODULES = {"models.layers", "training.feeding", "training.callbacks"}

# Every module may import these.
EVERYWHERE = {"errors"}

# module -> what it may import inside pricecast (a module or a package prefix). "*" = anything.
# A module inside a package may always import its own package's modules.
ALLOWED: dict[str, set[str]] = {
    "__main__": {"cli.main"},
    # the subpackages' __init__ files hold only their docstrings
    **{package: set() for package in ("data", "prep", "models", "training", "evaluation", "backtest", "plots",
                                      "experiments", "service", "cli", "report")},
    "data.candles": set(),
    "paths": set(),
    "durations": set(),
    "jsonable": set(),
    "errors": set(),
    # the ground floor's vocabulary of progress: what a training, backtest or experiment reports
    "events": set(),
    "training.backend": set(),
    "models.layers": set(),
    "training.callbacks": {"events"},
    "spawning": set(),
    "evaluation.metrics": set(),
    "prep.scaling": {"prep.targets"},
    "prep.targets": {"prep.features"},
    "evaluation.baselines": {"evaluation.metrics", "prep.features", "prep.targets", "prep.windows"},
    "evaluation.diagnostics": set(),
    "evaluation.uncertainty": set(),
    "data.samples": {"data.candles"},
    "data.sample_data.build": {"data.candles", "data.csv_import", "data.quality"},
    "data.quality": {"data.candles"},
    "data.csv_bytes": {"data.candles"},
    "data.csv_numbers": {"data.candles"},
    "data.columns": {"data.candles", "data.csv_bytes"},
    "data.csv_import": {"data.candles", "data.columns", "data.csv_bytes", "data.csv_numbers"},
    "data.uploads": {"paths"},
    "data.market": {"data.candles", "durations", "paths"},
    "data.synthetic": {"data.candles"},
    "data.datasets": {"data.candles", "data.columns", "data.csv_import", "data.market", "data.quality", "data.samples",
                      "data.synthetic", "data.uploads"},
    "field_meta": set(),
    "prep.features": {"data.candles"},
    "prep.windows": {"data.candles", "field_meta", "prep.features", "prep.targets"},
    "models.spec": {"field_meta"},
    "models.common": set(),
    "models.registry": set(),
    "models.checks": set(),
    "models.parts": set(),
    **{f"models.{family}": set() for family in ("classic", "tcn", "transformer", "nhits", "dlinear")},
    "models.builders": set(),
    "specs": {"field_meta", "models.registry", "models.spec", "prep.scaling", "prep.windows"},
    "catalogue": {"field_meta", "models.registry", "models.spec", "prep.windows", "specs"},
    "presets": {"catalogue", "data.datasets", "data.samples", "models.registry", "models.spec", "prep.windows", "specs"},
    # what-if: saved runs compared (reads run folders; builds the "repeat them" experiment)
    "compare": {"catalogue", "data.datasets", "evaluation.leakage", "experiments.presets", "experiments.spec", "jsonable", "paths",
                "presets", "specs", "training.runs"},
    "stories": {"catalogue", "presets", "specs"},
    "spec_io": {"catalogue", "data.candles", "jsonable", "models.checks", "models.common", "models.spec", "prep.scaling", "prep.windows",
                "presets", "specs"},
    "training.feeding": {"prep.scaling", "prep.windows"},
    "training.fitting": {"evaluation.metrics", "models.builders", "prep.scaling", "prep.windows", "specs",
                         "training.backend", "training.callbacks", "training.feeding"},
    # trials trained together: one vmapped computation over the fits of several specs (JAX inside)
    "training.fused": {"prep.scaling", "prep.windows", "specs", "training.backend", "training.feeding",
                       "training.fitting"},
    "evaluation.recursive": {"prep.scaling", "prep.windows"},
    "plots.figures": {"evaluation.baselines", "prep.targets"},
    "plots.runs": {"evaluation.metrics"},
    "plots.predictability": {"evaluation.predictability"},
    # the types both sides use (Prepared, Run and their errors): runs, controls and predicting need no pipeline
    "training.types": {"data.quality", "models.layers", "prep.scaling", "prep.windows", "specs"},
    "training.runs": {"data.datasets", "jsonable", "paths", "prep.scaling", "prep.windows", "presets", "specs",
                      "training.types"},
    "training.pipeline": {"data.candles", "data.datasets", "data.quality", "evaluation.baselines", "evaluation.decision",
                          "evaluation.diagnostics", "events", "evaluation.leakage", "evaluation.metrics", "prep.features",
                          "prep.targets", "models.checks", "prep.scaling", "prep.windows", "specs", "training.backend",
                          "training.callbacks", "training.fitting", "training.runs", "training.types"},
    "training.predicting": {"evaluation.baselines", "evaluation.decision", "evaluation.metrics", "prep.windows",
                            "training.fitting", "training.pipeline",
                            "training.types"},
    "training.controls": {"evaluation.leakage", "prep.windows", "specs", "training.fitting", "training.pipeline",
                          "training.types"},
    # judging trains nothing: evaluation never imports training
    "evaluation.leakage": {"evaluation.baselines", "evaluation.metrics", "prep.features", "prep.scaling", "prep.targets",
                           "prep.windows"},
    "evaluation.predictability": {"evaluation.leakage", "prep.targets", "prep.windows"},
    # which forecast a run uses (network or a naive fallback), decided on validation
    "evaluation.decision": {"evaluation.leakage", "evaluation.metrics"},
    "backtest.spec": {"catalogue", "field_meta"},
    "backtest.control": {"backtest.result", "backtest.spec", "backtest.walkforward", "evaluation.leakage", "events", "specs",
                         "training.controls"},
    "backtest.store": {"backtest.spec", "paths", "prep.features", "specs", "training.backend", "training.fitting"},
    "backtest.result": {"backtest.spec", "evaluation.diagnostics", "evaluation.leakage", "evaluation.metrics",
                        "evaluation.uncertainty", "prep.targets", "specs", "training.fitting"},
    "backtest.folds": {"backtest.result", "backtest.spec", "evaluation.baselines", "evaluation.leakage",
                       "evaluation.metrics", "prep.targets", "evaluation.recursive", "evaluation.uncertainty",
                       "prep.scaling", "prep.windows",
                       "training.fitting"},
    "backtest.walkforward": {"backtest.folds", "backtest.result", "backtest.spec", "backtest.store", "data.datasets",
                             "evaluation.baselines", "events", "evaluation.decision", "evaluation.recursive",
                             "evaluation.uncertainty", "models.checks", "prep.scaling",
                             "prep.windows", "specs", "training.fitting", "training.fused"},
    "backtest.pooled": {"backtest.result", "evaluation.leakage"},
    "plots.backtest": {"backtest.result", "evaluation.metrics"},
    # inside experiments: spec <- stats <- storage <- running (-> execution); candles, presets beside
    "experiments.spec": {"catalogue", "field_meta", "jsonable", "models.checks", "models.spec", "specs"},
    "experiments.stats": {"experiments.spec"},
    "experiments.candles": {"data.datasets", "experiments.spec", "training.pipeline"},
    "experiments.architectures": {"experiments.spec", "models.checks", "models.registry", "models.spec", "prep.windows",
                                  "presets", "specs"},
    "experiments.presets": {"catalogue", "experiments.architectures", "experiments.candles", "experiments.spec",
                            "models.registry", "models.spec", "presets", "specs"},
    "experiments.storage": {"experiments.spec", "experiments.stats", "jsonable", "paths"},
    "plots.experiments": {"experiments.stats"},
    # the machinery knows nothing of what jobs do
    "jobs": {"events", "spawning", "specs"},
    # the service layer, above experiments and the job machinery: an experiment's trials run as jobs
    "service.experiments": {"events", "experiments.candles", "experiments.spec", "experiments.storage"},
    "service.trials": {"backtest.pooled", "backtest.result", "backtest.spec", "backtest.walkforward", "experiments.spec",
                       "experiments.storage", "jobs.executors", "jobs.job", "jobs.registry", "jobs.task", "models.checks",
                       "paths", "specs", "training.backend", "training.fused", "training.pipeline", "training.runs",
                       "training.types"},
    # the dashboard's job kinds (they reach training) and its registry
    "service.tasks": {"backtest.control", "events", "jobs.task", "models.builders", "paths", "specs",
                      "training.backend", "training.callbacks", "training.feeding", "training.pipeline",
                      "training.predicting", "training.runs", "report.script", "tracking", "tuning", "data.datasets"},
    "service.dashboard": {"jobs.registry", "specs"},
    # results that leave the server: the HTML report (the plots' figures, no Keras) and the standalone script
    "report.document": {"backtest.result", "catalogue", "data.datasets", "data.samples", "evaluation.baselines", "evaluation.metrics",
                        "experiments.stats", "experiments.storage", "plots.backtest", "plots.experiments",
                        "plots.figures", "plots.runs", "presets", "spec_io", "specs", "training.runs", "training.types"},
    "report.script": {"data.candles", "data.datasets", "prep.targets", "training.runs", "training.types"},
    # optional packages (Optuna, MLflow) imported by name with one install message
    "optional": set(),
    # Optuna search: trials are ordinary training runs; on Ray through the job machinery's import_ray
    "tuning": {"catalogue", "events", "jobs.executors", "optional", "paths", "spec_io", "specs", "training.pipeline"},
    # MLflow / TensorBoard from outside the training loop: a saved Run and the listener's events
    # (training.runs only in its `python -m pricecast.tracking RUN_DIR URI` entry, which logs a saved run)
    "tracking": {"catalogue", "events", "optional", "paths", "specs", "training.runs", "training.types"},
    "cli.main": {"*"},
    "cli.tune": {"*"},
    "cli.tracking": {"*"},
    "cli.common": {"*"},
    "cli.data": {"*"},
    "cli.train": {"*"},
    "cli.runs": {"*"},
    "cli.market": {"*"},
    "cli.backtest": {"*"},
    "cli.experiment": {"*"},
    "cli.report": {"*"},
}

# Imports whose module name is built at run time (the scan cannot read it): module -> what it
# imports that way. A new dynamic import fails test_dynamic_imports_are_declared until listed here.
DYNAMIC_IMPORTS: dict[str, set[str]] = {
    "optional": set(),  # import_optional: third-party optional packages (optuna, mlflow), never a pricecast module
}

# Cycles that close only through imports inside functions (each listed once, sorted). The target
# layout breaks them by moving the shared types (issue 13); an entry that no longer closes fails
# the test so the table stays true.
KNOWN_CYCLES: list[set[str]] = [
]


def _name(path: Path) -> str:
    parts = list(path.relative_to(PKG).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES: dict[str, Path] = {_name(p): p for p in sorted(PKG.rglob("*.py"))}


class Import:
    def __init__(self, module: str, line: int, target: str, top: bool | None) -> None:
        self.module, self.line, self.target, self.top = module, line, target, top

    def __repr__(self) -> str:
        where = {True: "module level", False: "inside a function", None: "for type checking only"}[self.top]
        return f"{self.module or 'pricecast'} -> {self.target} (line {self.line}, {where})"


def _owner(target: str) -> str | None:
    """The pricecast module a dotted name (relative to pricecast) lives in."""
    name = target
    while name not in MODULES:
        if "." not in name:
            return name if name == "" else None
        name = name.rpartition(".")[0]
    return name


def _from_targets(node: ast.ImportFrom, package: list[str]) -> list[str]:
    """What ``from X import a, b`` imports: the submodules a, b where they are modules, else X."""
    if node.level:
        here = ["pricecast", *(p for p in package if p)]
        base = here[: len(here) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    rel = target.removeprefix("pricecast").lstrip(".")
    # `from . import cache` imports the module pricecast.data.market.cache, not only the package
    subs = [f"{target}.{a.name}" for a in node.names if f"{rel}.{a.name}".lstrip(".") in MODULES]
    return subs if target.startswith("pricecast") and len(subs) == len(node.names) else [target]


def _imports(module: str, path: Path) -> list[tuple[int, str, bool | None]]:
    """(line, absolute dotted target, module level?) for every import in the file, also the ones
    inside functions, ``if TYPE_CHECKING:`` blocks as None (never executed: no cycle, still layered), and
    ``__import__("pricecast.x")`` with a constant name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: list[tuple[int, str, bool | None]] = []

    def visit(node: ast.AST, top: bool | None) -> None:
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, top) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.extend((node.lineno, target, top) for target in _from_targets(node, package))
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in ("__import__", "importlib.import_module"):
            arg = node.args[0] if node.args else None
            name = arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else DYNAMIC
            found.append((node.lineno, name, False))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            top = False
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:  # for type checkers only: never runs, so it closes no cycle
                visit(child, None)
            for child in node.orelse:
                visit(child, top)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, top)

    for stmt in tree.body:
        visit(stmt, True)
    return found


DYNAMIC = "<a name built at run time>"


def _all_imports() -> list[Import]:
    out = []
    for module, path in MODULES.items():
        for line, target, top in _imports(module, path):
            if target == DYNAMIC:
                out.append(Import(module, line, target, top))
                out.extend(Import(module, line, f"pricecast.{t}", False) for t in sorted(DYNAMIC_IMPORTS.get(module, ())))
            else:
                out.append(Import(module, line, target, top))
    return out


IMPORTS = _all_imports()


def _edges(module_level_only: bool, for_type_checkers: bool = False) -> dict[str, set[str]]:
    """pricecast module -> pricecast modules it imports (a package's own __init__ excluded: a
    submodule always loads its package first, which is no cycle); ``for_type_checkers``: also the
    imports under ``if TYPE_CHECKING:``."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in IMPORTS:
        if (not for_type_checkers) if imp.top is None else (module_level_only and not imp.top):
            continue
        if imp.target != "pricecast" and not imp.target.startswith("pricecast."):
            continue
        owner = _owner(imp.target.removeprefix("pricecast").lstrip("."))
        if owner is None or owner == imp.module or imp.module.startswith(owner + ".") or owner == "":
            continue
        graph[imp.module].add(owner)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def _prefixes(module: str) -> list[str]:
    """"data.market.loader" -> ["data.market.loader", "data.market", "data"]: the rows that may hold its rule."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def _allowed(module: str, target: str) -> bool:
    if target in EVERYWHERE:
        return True
    if module.partition(".")[0] == target.partition(".")[0] and "." in module + target:
        return True  # inside one package
    rules = next((ALLOWED[k] for k in _prefixes(module) if k in ALLOWED), None)
    if rules is None:
        return False
    return "*" in rules or any(target == r or target.startswith(r + ".") for r in rules)


def _edge_lines(graph: dict[str, set[str]], members: set[str]) -> list[str]:
    return [f"  {m} -> {t}" for m in sorted(members) for t in sorted(graph[m] & members)]


def test_the_scan_sees_the_package():
    # guards the tests below against passing on an empty scan (a moved folder, a broken parser)
    assert {"cli.main", "training.pipeline", "data.market.loader", "jobs.worker", "models.layers"} <= MODULES.keys()
    assert any(i.module == "training.pipeline" and i.target == "pricecast.models.checks" for i in IMPORTS)
    assert any(i.module == "cli.main" and i.target == "pricecast.cli.data" and i.top for i in IMPORTS)
    assert any(i.module == "models.layers" and i.target == "keras" and i.top for i in IMPORTS)


def test_dynamic_imports_are_declared():
    undeclared = [i for i in IMPORTS if i.target == DYNAMIC and i.module not in DYNAMIC_IMPORTS]
    unused = sorted(set(DYNAMIC_IMPORTS) - {i.module for i in IMPORTS if i.target == DYNAMIC})
    assert not undeclared, f"declare what these import in DYNAMIC_IMPORTS: {undeclared}"
    assert not unused, f"no dynamic import left in {unused}: remove them from DYNAMIC_IMPORTS"


def test_library_never_imports_the_dashboard():
    bad = [i for i in IMPORTS if i.target.partition(".")[0] in FORBIDDEN_ROOTS]
    print("\n".join(map(repr, bad)))
    assert not bad, "pricecast/ must not import streamlit, ui or pages:\n" + "\n".join(map(repr, bad))


def test_every_module_has_a_row_in_the_table():
    missing = sorted(m for m in MODULES if m and not any(k in ALLOWED for k in _prefixes(m)))
    assert not missing, f"add these modules to ALLOWED in tests/test_layering.py: {missing}"


def test_imports_follow_the_allowed_edges():
    graph = _edges(module_level_only=False, for_type_checkers=True)
    bad = [f"  {m} -> {t}" for m in sorted(graph) if m for t in sorted(graph[m]) if not _allowed(m, t)]
    print("\n".join(bad))
    assert not bad, "imports the layering table does not allow:\n" + "\n".join(bad)


def test_no_cycles_among_module_level_imports():
    graph = _edges(module_level_only=True)
    cycles = _cycles(graph)
    lines = [line for c in cycles for line in [f"cycle {sorted(c)}:", *_edge_lines(graph, c)]]
    print("\n".join(lines))
    assert not cycles, "module-level import cycles:\n" + "\n".join(lines)


def test_no_cycles_also_through_imports_for_type_checkers():
    """A circle that only a type checker follows is still two modules that need each other."""
    graph = _edges(module_level_only=True, for_type_checkers=True)
    cycles = _cycles(graph)
    assert not cycles, [line for c in cycles for line in [f"cycle {sorted(c)}:", *_edge_lines(graph, c)]]


def test_cycles_through_imports_inside_functions_are_the_known_ones():
    graph = _edges(module_level_only=False)
    cycles = _cycles(graph)
    for c in cycles:
        print(f"cycle {sorted(c)}:", *_edge_lines(graph, c), sep="\n")
    new = [sorted(c) for c in cycles if c not in KNOWN_CYCLES]
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in cycles]
    assert not new, f"new import cycles (imports inside functions included): {new}"
    assert not gone, f"these cycles no longer close: remove them from KNOWN_CYCLES: {gone}"


def _keras_at_module_level(module: str) -> list[Import]:
    return [i for i in IMPORTS if i.module == module and i.top and i.target.partition(".")[0] in KERAS_ROOTS]


def test_keras_is_imported_at_module_level_only_where_allowed():
    bad = [i for m in MODULES if m not in KERAS_MODULES for i in _keras_at_module_level(m)]
    print("\n".join(map(repr, bad)))
    assert not bad, f"TensorFlow/Keras at module level outside {sorted(KERAS_MODULES)}:\n" + "\n".join(map(repr, bad))


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m and m not in KERAS_MODULES))
def test_importing_a_module_does_not_load_keras(module):
    """What loads when ``module`` is imported (its module-level imports, followed) holds none of
    the Keras modules."""
    graph = _edges(module_level_only=True)
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(graph[m])
        # importing a submodule loads its packages' __init__ first
        parts = m.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in MODULES)
    loaders = sorted(seen & KERAS_MODULES)
    assert not loaders, f"importing {module} loads Keras through {loaders}"


def _ui_imports(path: Path) -> set[str]:
    """The ``ui`` modules a dashboard file imports, anywhere in it (``from ui import a``, ``from .a import``...)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = "ui" if node.level else (node.module or "")
            module = f"ui.{node.module}" if node.level and node.module else base
            if module == "ui":
                found |= {f"ui.{a.name}" for a in node.names}
            elif module.startswith("ui."):
                found.add(module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("ui.")}
    return found


def test_the_dashboard_has_no_import_cycles():
    """ui/ modules (and the pages above them) never import one another in a circle, also not inside functions."""
    root = PKG.parent
    files = {f"ui.{p.stem}": p for p in (root / "ui").glob("*.py") if p.stem != "__init__"}
    graph = {name: _ui_imports(path) & files.keys() - {name} for name, path in files.items()}
    for page in [*(root / "pages").glob("*.py"), root / "app.py"]:
        graph[f"page:{page.stem}"] = _ui_imports(page) & files.keys()
    assert graph["ui.common"] and graph["page:3_Train"]  # the scan sees the imports
    assert not _cycles(graph), _cycles(graph)
