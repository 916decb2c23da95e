"""The framework registry is the one list of frameworks: everything else reads it."""
import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.run.frameworks import adapter_for, registry
from harness.run.pool import discover, parse_pythons
from harness.spec import model

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "harness" / "run" / "frameworks" / "registry.py"


def test_entries_in_display_order_with_unique_names():
    names = registry.names()
    assert len(set(names)) == len(names) == len(registry.FRAMEWORKS) and registry.REFERENCE in names
    assert [registry.rank(n) for n in names] == list(range(len(names)))
    assert registry.rank("fake:tests.fake_framework") == len(names)  # unknown names sort after every known one
    for fw in registry.FRAMEWORKS:
        assert registry.get(fw.name) is fw and fw.display
        assert fw.pins[0].startswith(f"{fw.pip}==")  # `PIP==VERSION` on nox's command line replaces it
    assert len({f.color for f in registry.FRAMEWORKS}) == len({f.text_color for f in registry.FRAMEWORKS}) == len(names)
    with pytest.raises(ValueError, match="unknown framework 'tensorflow'; known:"):
        registry.get("tensorflow")


def test_registry_imports_only_the_standard_library():
    tree = ast.parse(REGISTRY.read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported and imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_each_adapter_module_names_its_entry():
    for fw in registry.FRAMEWORKS:
        adapter = importlib.import_module(fw.adapter).Adapter()  # the framework itself is imported by setup() only
        assert (adapter.name, adapter.package) == (fw.name, fw.package)
        assert type(adapter_for(fw.name)) is type(adapter)
    with pytest.raises(ValueError, match="unknown framework"):
        adapter_for("tensorflow")


def test_specs_workers_and_report_read_the_registry():
    from harness.report import plots, tables

    assert model.FRAMEWORKS == registry.names()
    assert plots.COLORS == {f.name: f.color for f in registry.FRAMEWORKS}
    assert plots.DASHES == {f.name: f.dashes for f in registry.FRAMEWORKS}
    assert tables.REFERENCE == registry.REFERENCE
    with pytest.raises(ValueError, match="unknown framework 'jax'"):
        parse_pythons("jax=/x/python")
    last = registry.names()[-1]
    found, missing = discover({last: "/x/python"})
    assert found == {last: "/x/python"} and missing == list(registry.names()[:-1])


def test_report_colours_framework_names_from_the_registry(tmp_path):
    from harness.report import html
    from harness.report.results import merge

    part = {"meta": {}, "frameworks": {"torch": "2.13.0"}, "spec_errors": [],
            "targets": [{"api": "x_loss", "title": "X", "framework": "torch", "target": "torch.x", "kind": "function",
                         "counts": {"values": {"match": 5}}, "calls": 5, "seconds": 0.1, "error": None,
                         "spec": "specs/x.yaml", "findings": []}]}
    (tmp_path / "main.json").write_text(json.dumps(part))
    html.write_html(merge([tmp_path / "main.json"], {"seed": 1, "max_examples": 5, "seconds": 1.0, "command": "x"}),
                    tmp_path / "index.html")
    page = (tmp_path / "index.html").read_text()
    for fw in registry.FRAMEWORKS:
        assert f".fw-{fw.name} {{ color: {fw.text_color}; }}" in page


def test_noxfile_takes_pins_and_packages_from_the_registry_without_the_harness():
    """nox reads the noxfile before numpy or the harness is installed: loading it must import neither."""
    pytest.importorskip("nox")
    code = ("import json, runpy, sys; "
            "m = runpy.run_path('noxfile.py'); "
            "assert 'numpy' not in sys.modules and 'harness' not in sys.modules, sorted(sys.modules); "
            "print(json.dumps([m['FRAMEWORKS'], m['PACKAGES']]))")
    out = subprocess.run([sys.executable, "-I", "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    pins, packages = json.loads(out.stdout)
    assert pins == {f.name: list(f.pins) for f in registry.FRAMEWORKS} and list(pins) == list(registry.names())
    assert packages == {f.name: f.pip for f in registry.FRAMEWORKS}
