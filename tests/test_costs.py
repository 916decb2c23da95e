"""The benchmark's conformance story (harness/report/costs.py): figures from report.json's targets[].costs."""
from harness.report import costs


def _target(name, seconds, **c):
    return {"target": name, "api": "a", "seconds": seconds, "costs": c}


def test_the_story_puts_wall_time_beside_its_floor_and_splits_the_slowest_bindings():
    targets = [_target("fast", 1.0, call_seconds=0.5, reference_seconds=0.1),
               _target("hangs", 50.0, call_seconds=0.2, restarts=7, restart_seconds=3.0, timeouts=4, waited_seconds=40.0,
                       shrink_seconds=2.5, locate_seconds=1.25),
               {"target": "old", "api": "a", "seconds": 2.0}]  # a report from before costs were kept
    s = costs.story(targets, wall=60.0, imports={"torch": 1.5, "paddle": 3.0}, slowest=2)
    assert s["floor_seconds"] == 0.7 + 4.5 and s["call_seconds"] == 0.7
    assert (s["restarts"], s["timeouts"], s["waited_seconds"]) == (7, 4, 40.0)
    assert (s["shrink_seconds"], s["locate_seconds"]) == (2.5, 1.25)
    assert [r["target"] for r in s["slowest"]] == ["hangs", "old"]
    assert s["slowest"][0]["other_seconds"] == 50.0 - 0.2 - 3.0 - 40.0 - 2.5 - 1.25  # the phases are parts of their own
    text = "\n".join(costs.lines(s))
    assert "wall 60.0 s, floor 5.2 s" in text and "restarts 7" in text and "timeouts 4" in text and "hangs" in text
    assert "shrinking 2.5 s, locating 1.2 s" in text
    assert "side by side" not in text  # one binding after another: the floor bounds the wall time


def test_the_story_says_when_bindings_overlapped():
    s = costs.story([_target("a", 40.0, call_seconds=30.0), _target("b", 40.0, call_seconds=30.0)], wall=50.0, imports={})
    assert "side by side" in "\n".join(costs.lines(s))


def test_a_reference_is_charged_to_the_thread_that_evaluated_it():
    """Bindings run side by side in threads of their own (lanes) share a spec's references: each binding's costs
    count what its own thread evaluated, never what another lane did meanwhile."""
    import threading

    from harness.run.pipeline import Config, SpecRun
    from harness.spec.model import load_all

    spec = next(s for s in load_all("specs").specs if s.api == "mse_loss")
    run = SpecRun(spec, Config(max_examples=6))
    half = len(run.cases) // 2
    seen: dict[str, float] = {}
    both = threading.Barrier(2)  # side by side: neither thread ends before the other has read its figure

    def lane(name: str, cases: list) -> None:
        both.wait()
        for c in cases:
            run.reference(c).value  # noqa: B018 (read: evaluated on this thread)
        seen[name] = run.reference_seconds()
        both.wait()

    threads = [threading.Thread(target=lane, args=(n, cs)) for n, cs in (("a", run.cases[:half]), ("b", run.cases[half:]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["a"] > 0 and seen["b"] > 0
    assert run.reference_seconds() == 0.0  # this thread evaluated none
    assert sum(run._reference_seconds.values()) == seen["a"] + seen["b"]
