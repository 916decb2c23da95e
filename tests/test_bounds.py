"""Resource bounds and paths: the memory limit of framework processes, the case size cap, and file
names made from outside data never leaving their directory."""
from __future__ import annotations

import resource
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.cases import generate
from harness.files import inside, safe_name
from harness.run import wire
from harness.run.pool import Worker, machine_memory, parse_memory
from harness.spec.model import MAX_CASE_ELEMENTS, load_spec

FAKE = "fake:tests.fake_framework"
HUGE_DIMS = """
api: huge_dims
title: dims that allow far more than a machine holds
dims:
  N: {min: 1, max: 4096}
  S: {rank: [0, 8], min: 0, max: 4096}
inputs:
  input: {dtypes: [float32], shape: [N, S...]}
  other: {dtypes: [float32], shape: [N, N, N]}
formula: |
  result = input
frameworks:
  torch:
    bindings:
      - {target: torch.x, kind: function, signature: "(input)"}
"""


def test_memory_limit_settings():
    assert parse_memory("4G") == 4 << 30 and parse_memory("512m") == 512 << 20 and parse_memory("1.5GB") == 3 << 29
    assert parse_memory("0") == 0 and parse_memory("auto") == machine_memory() // 2
    with pytest.raises(ValueError, match="4G, 512M, auto or 0"):
        parse_memory("lots")


def test_the_worker_runs_under_its_memory_limit(tmp_path):
    limit = 320 << 20
    worker = Worker(FAKE, sys.executable, timeout=5, log_dir=tmp_path, memory=limit)
    try:
        ok = {"op": "call", "target": "fake.ok", "kind": "function", "args": [wire.encode_array(np.ones(2))]}
        oom = {**ok, "target": "fake.oom_always"}
        replies = worker.run([{**ok, "id": 1}, {**oom, "id": 2}, {**ok, "id": 3}])
        assert replies[1]["crash"] == "memory" and replies[1]["error"]["type"] == "MemoryError"
        assert "error" not in replies[0] and "error" not in replies[2] and worker.restarts == 0
        pid = worker.info["pid"]
        limits = Path(f"/proc/{pid}/limits").read_text()
        line = next(x for x in limits.splitlines() if x.startswith("Max data size"))
        assert str(limit) in line
    finally:
        worker.close()


def test_no_limit_means_none_is_set(tmp_path):
    worker = Worker(FAKE, sys.executable, timeout=5, log_dir=tmp_path, memory=0)
    worker.start()
    try:
        limits = Path(f"/proc/{worker.info['pid']}/limits").read_text()
        soft = resource.getrlimit(resource.RLIMIT_DATA)[0]
        expected = "unlimited" if soft == resource.RLIM_INFINITY else str(soft)
        assert expected in next(x for x in limits.splitlines() if x.startswith("Max data size"))
    finally:
        worker.close()


def test_cases_never_outgrow_the_cap(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text(HUGE_DIMS)
    spec = load_spec(path)
    cases = generate.draw(generate.valid_cases(spec), 40, seed=3)
    sizes = [c.size for c in cases]
    assert max(sizes) <= MAX_CASE_ELEMENTS
    assert max(sizes) > MAX_CASE_ELEMENTS // 8, "the cap shrinks dims, it does not collapse them"
    # the cap is a constant (same cases on every machine) far below any machine's memory
    assert MAX_CASE_ELEMENTS * 8 * 16 < machine_memory() // 4


def test_a_spec_whose_smallest_case_is_too_big_is_rejected(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text(HUGE_DIMS.replace("N: {min: 1,", "N: {min: 2000,"))
    with pytest.raises(Exception, match="smallest case"):
        load_spec(path)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "..", ".", "", "a/../../b", "x\x00y",
                                  "torch.nn/../../evil", "fake:../../x", "C:\\windows\\evil", "." * 300])
def test_names_from_outside_stay_in_their_directory(tmp_path, name):
    root = tmp_path / "reports"
    path = inside(root, name)
    assert path.parent == root and path.resolve().is_relative_to(root.resolve())
    assert "/" not in safe_name(name) and not safe_name(name).startswith(".")


def test_worker_log_of_a_hostile_framework_name_stays_in_the_log_dir(tmp_path):
    worker = Worker("fake:../../../tmp/evil", sys.executable, log_dir=tmp_path / "logs")
    assert worker.log_path.parent == tmp_path / "logs"
