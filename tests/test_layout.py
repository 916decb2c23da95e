"""The package's shape: no import cycles, layers that import only the layers before them, light entry points."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from harness.checks import registry
from harness.checks.base import CaseCheck, Check, CheckName

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "harness"
LAYERS = ["files", "run.frameworks.registry", "spec", "cases", "run.wire", "run.floor", "run.frameworks", "run.worker",
          "run.forkserver", "run.deadline", "run.pool",
          "run.forms", "judge", "checks", "judge.findings", "judge.region", "run.budget", "run.pipeline",
          "report", "run.session", "gate", "bench", "plugin", "cli", "__main__"]
"""Each module's layer, by the longest prefix of its dotted name; a module may import its own layer and earlier ones.
The framework registry is plain data every layer reads; a run session (the per-process state behind the plugin and
the CLI) writes report parts, so it sits above the report layer."""


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Harness modules imported by `path`, at any depth, leaving out `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(path.read_text())
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness"):
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in modules else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def test_no_import_cycles() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    # package __init__ files import nothing, so a cycle is between modules
    assert not cycles, f"import cycles: {cycles}"


def _layer(module: str) -> int:
    rest = module.removeprefix("harness").lstrip(".")
    best = max((layer for layer in LAYERS if rest == layer or rest.startswith(layer + ".")), key=len, default=None)
    assert best is not None, f"{module} belongs to no layer: add it to LAYERS"
    return LAYERS.index(best)


def test_layers_import_only_earlier_layers() -> None:
    wrong = [f"{m} imports {i}" for m, imports in _graph().items() if m != "harness"
             for i in imports if i != "harness" and _layer(i) > _layer(m)]
    assert not wrong, "\n".join(wrong)


def test_the_gate_and_the_worker_do_not_import_the_run_stack() -> None:
    """The gate compares JSON and a framework's environment has numpy only: neither may pull in hypothesis."""
    code = ("import sys; import harness.gate.delta, harness.gate.baselines, harness.gate.replay, harness.run.worker; "
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('hypothesis', 'pytest') "
            "or m in ('harness.run.pipeline', 'harness.checks.registry')); print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_every_check_name_is_registered_once_with_a_distinct_place() -> None:
    checks = registry.in_run_order()
    assert sorted(c.name for c in checks) == sorted(CheckName.__args__)  # type: ignore[attr-defined]
    assert len({c.order for c in checks}) == len(checks) and len({c.column for c in checks}) == len(checks)
    assert all(isinstance(c, Check) for c in checks)


def test_case_checks_claim_every_case_and_shrink_only_what_they_judge() -> None:
    """The last case check in run order owns every case (else a case would go unjudged)."""
    last = registry.case_checks()[-1]
    assert isinstance(last, CaseCheck)
    assert last.owns(None)  # type: ignore[arg-type]
    assert {c.name for c in registry.in_run_order() if c.shrunk} <= {c.name for c in registry.case_checks()}


def test_derived_lists_follow_the_registry() -> None:
    from harness.judge.findings import partition
    from harness.report.tables import BEHAVIOUR

    assert set(BEHAVIOUR) == set(registry.names()) - {"signature"}
    assert [c.name for c in registry.table_rows()] == ["values", "dtypes", "raises", "signature", "defaults", "examples",
                                                       "gradients", "positional", "naive-port", "warnings",
                                                       "precision-growth", "options", "stale-error"]
    assert registry.names() == ("signature", "defaults", "values", "dtypes", "raises", "examples", "gradients",
                                "positional", "naive-port", "warnings", "precision-growth", "options",
                                "stale-error")
    assert partition.__module__ == "harness.judge.findings"


def test_the_published_report_schema_names_every_check_verdict_and_class():
    """reports/report.schema.json is what machines validate report.json against: a check, verdict or class it does not
    list makes a real report invalid (it listed 7 of the 13 checks until stop 29)."""
    from harness.judge.classes import CLASSES
    from harness.judge.verdicts import VERDICTS

    schema = json.loads((ROOT / "reports" / "report.schema.json").read_text())
    finding = schema["properties"]["findings"]["items"]["properties"]
    assert sorted(finding["check"]["enum"]) == sorted(registry.names())
    assert sorted(finding["verdict"]["enum"]) == sorted(v for v in VERDICTS if v != "match")  # a finding never matches
    assert sorted(finding["class"]["enum"]) == sorted(CLASSES)
    assert sorted(schema["properties"]["causes"]["items"]["properties"]["class"]["enum"]) == sorted(CLASSES)
