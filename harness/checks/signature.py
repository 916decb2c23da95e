"""The signature check: introspected names, order and defaults against the documented signature
(and a class's call inputs)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.checks.base import BindingCheck, TableRow
from harness.judge.verdicts import Verdict, VerdictName, explain
from harness.spec.model import BindingView, parse_signature

if TYPE_CHECKING:
    from harness.run.pipeline import TargetRunner


class SignatureCheck(BindingCheck):
    name = "signature"
    order = 0
    column = 0
    reproducer = "signature"
    table = TableRow(3, "signature as documented")

    def verdicts(self, run: TargetRunner) -> list[Verdict]:
        b = run.binding
        sig = run.pool.get(b.framework, run.lane).run([{"op": "signature", "id": 0, "target": b.target, "kind": b.kind}])[0]
        if sig.get("error") or sig.get("crash"):
            err = sig.get("error") or {}
            return [Verdict(b, None, "signature", "unexpected-error", "unexpected-error", "unexpected-error",
                            message=f"{err.get('type')}: {err.get('message')}")]
        return [signature_verdict(b, sig)]


CHECK = SignatureCheck()


def signature_verdict(binding: BindingView, actual: dict[str, Any]) -> Verdict:
    """Names, order and defaults of the documented signature against the introspected one."""
    problems = _signature_diff(parse_signature(binding.model.signature), actual.get("params") or [], "")
    if binding.model.call and actual.get("call") is not None:
        problems += _signature_diff(parse_signature(binding.model.call), actual["call"], "call ")
    verdict: VerdictName = "signature" if problems else "match"
    v = Verdict(binding, None, "signature", verdict, "match", verdict, message="; ".join(problems),
                expected={"signature": binding.model.signature, "call": binding.model.call},
                actual={"params": actual.get("params"), "call": actual.get("call")})
    explain(v, None, None, [])
    return v


def _signature_diff(documented: list[tuple[str, Any, bool]], actual: list[list[Any]], prefix: str) -> list[str]:
    problems = []
    doc_names = [d[0] for d in documented]
    act_names = [a[0] for a in actual]
    missing = [n for n in doc_names if n not in act_names]
    extra = [n for n in act_names if n not in doc_names]
    if missing:
        problems.append(f"{prefix}documented but absent: {', '.join(missing)}")
    if extra:
        problems.append(f"{prefix}present but undocumented: {', '.join(extra)}")
    common = [n for n in doc_names if n in act_names]
    if common != [n for n in act_names if n in doc_names]:
        problems.append(f"{prefix}order differs: documented ({', '.join(common)}), actual ({', '.join(n for n in act_names if n in doc_names)})")
    act = {a[0]: a for a in actual}
    for name, default, has in documented:
        if name in act and (has != act[name][2] or (has and default != act[name][1])):
            shown = repr(act[name][1]) if act[name][2] else "required"
            doc_shown = repr(default) if has else "required"
            problems.append(f"{prefix}default of {name}: documented {doc_shown}, actual {shown}")
    return problems
