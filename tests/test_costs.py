"""The benchmark's conformance story (harness/report/costs.py): figures from report.json's targets[].costs."""
from harness.report import costs


def _target(name, seconds, **c):
    return {"target": name, "api": "a", "seconds": seconds, "costs": c}


def test_the_story_puts_wall_time_beside_its_floor_and_splits_the_slowest_bindings():
    targets = [_target("fast", 1.0, call_seconds=0.5, reference_seconds=0.1),
               _target("hangs", 50.0, call_seconds=0.2, restarts=7, restart_seconds=3.0, timeouts=4, waited_seconds=40.0),
               {"target": "old", "api": "a", "seconds": 2.0}]  # a report from before costs were kept
    s = costs.story(targets, wall=60.0, imports={"torch": 1.5, "paddle": 3.0}, slowest=2)
    assert s["floor_seconds"] == 0.7 + 4.5 and s["call_seconds"] == 0.7
    assert (s["restarts"], s["timeouts"], s["waited_seconds"]) == (7, 4, 40.0)
    assert [r["target"] for r in s["slowest"]] == ["hangs", "old"]
    assert s["slowest"][0]["other_seconds"] == 50.0 - 0.2 - 3.0 - 40.0
    text = "\n".join(costs.lines(s))
    assert "wall 60.0 s, floor 5.2 s" in text and "restarts 7" in text and "timeouts 4" in text and "hangs" in text
    assert "side by side" not in text  # one binding after another: the floor bounds the wall time


def test_the_story_says_when_bindings_overlapped():
    s = costs.story([_target("a", 40.0, call_seconds=30.0), _target("b", 40.0, call_seconds=30.0)], wall=50.0, imports={})
    assert "side by side" in "\n".join(costs.lines(s))
