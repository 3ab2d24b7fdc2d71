"""The package's import layers: no module imports one of a higher layer, and camsweep modules import no
cycle. Every import counts, module-level and inside functions (a function-level import is still a dependency;
hiding one in a function only defers the cycle); imports under ``if TYPE_CHECKING:`` count for the layers but
not for cycles (they never run)."""

import ast
from pathlib import Path

import camsweep

ROOT = Path(camsweep.__file__).parent

# From low to high; a module may import its own layer and the ones below. A name covers its submodules.
LAYERS = (
    # foundation: files, seeds, statistics, script glue, spelling suggestions
    ("camsweep", "camsweep.io", "camsweep.seeding", "camsweep.stats", "camsweep.scripting", "camsweep.spelling"),
    # images and what is drawn on them: splits, perturbations, regions, maps; Dice and IoU of masks (NumPy
    # only, below the models because a segmenter's training reports its validation Dice)
    ("camsweep.data", "camsweep.perturb", "camsweep.regions", "camsweep.maps", "camsweep.metrics.segmentation"),
    # networks: construction, the training loop, checkpoints, batched outputs
    ("camsweep.models",),
    # class activation maps of any network
    ("camsweep.cams",),
    # scores of maps and models
    ("camsweep.metrics",),
    # what the pipeline's stages do with them; config checks a configuration against models and datasets
    (
        "camsweep.inference", "camsweep.predictions", "camsweep.scoring", "camsweep.sanity", "camsweep.comparisons",
        "camsweep.tables", "camsweep.augment", "camsweep.attention", "camsweep.segmented_regions", "camsweep.shards",
        "camsweep.jobs", "camsweep.training_runs", "camsweep.config", "camsweep.reliability",
    ),
    ("camsweep.plots",),
    ("camsweep.studies",),
)

# Imports that break the layers and wait for a fix in their module: (importer, imported) → why.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``)."""
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            guarded.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    return guarded


def _imports(name: str, path: Path, modules: dict[str, Path], runtime_only: bool = False) -> set[str]:
    """camsweep modules ``name`` imports anywhere in its body: ``from a import b`` counts as a.b when that
    is a module, else as a."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    skipped = _type_checking_only(tree) if runtime_only else set()
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], *filter(None, [base])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target.startswith("camsweep") and target != name:
                found.add(target)
    return found


def _layer(name: str) -> int | None:
    matches = [
        (len(prefix), level) for level, names in enumerate(LAYERS) for prefix in names
        if name == prefix or (prefix != "camsweep" and name.startswith(prefix + "."))
    ]
    return max(matches)[1] if matches else None


def _graph(runtime_only: bool = False) -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules, runtime_only) for name, path in modules.items()}


def test_the_parser_sees_function_level_imports():
    graph = _graph()
    assert "camsweep.models.classifiers" in graph["camsweep.config"]  # imported inside _module_names
    assert "camsweep.cams.hooks" in graph["camsweep.attention"]


def test_every_module_has_a_layer():
    assert [name for name in _graph() if _layer(name) is None] == []


def test_no_import_reaches_up_a_layer():
    upward = [
        f"{name} (layer {_layer(name)}) imports {target} (layer {_layer(target)})"
        for name, targets in _graph().items() for target in sorted(targets)
        if _layer(name) is not None and _layer(target) is not None and _layer(target) > _layer(name)
        and (name, target) not in KNOWN_VIOLATIONS
    ]
    assert upward == []


def test_no_import_cycle():
    graph = _graph(runtime_only=True)
    cycles, state = [], {}  # state: 1 on the current path, 2 done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph.get(name, ())):
            if state.get(target) == 1:
                cycles.append(" → ".join([*path[path.index(target):], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []
