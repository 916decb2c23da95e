"""Reproducers: one standalone script per finding that makes the same call and shows the discrepancy.

The run captures (`capture`) what a finding's minimal case sent to the framework, the request
exactly as the worker received it with its arrays stored losslessly, and what the harness
expected; the report stage writes the scripts (`write_all`). How a framework spells a tensor, a
call and a result is framework knowledge: the adapters say it (`Adapter.snippet_*`). A script
exits with status 1 while the discrepancy is there, 0 once it is gone.
"""
from __future__ import annotations

import base64
import io
import math
import textwrap
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from harness.checks import registry
from harness.judge import compare
from harness.judge.reference import evaluate
from harness.judge.verdicts import Verdict
from harness.run import wire
from harness.run.frameworks import adapter_for
from harness.run.frameworks import registry as frameworks
from harness.spec import dtypes
from harness.spec.model import ArraySpec, BindingView, parse_signature

CHILD_TIMEOUT = 120  # seconds a reproducer waits for a call that hung in the run
REPEAT = 20  # identical calls before a script says the discrepancy is gone (some outputs are not deterministic)
INLINE_ELEMENTS = 64  # larger arrays go to an .npz file next to the script
MAX_ELEMENTS = 1_000_000  # beyond this a finding gets no reproducer (the report says so)
RESERVED = {"np", "sys", "out", "actual", "actual_dtype", "expected", "atol", "rtol", "limit", "data", "differs",
            "exc", "inspect"} | {f.package for f in frameworks.FRAMEWORKS}


# capture (orchestrator side, while the run still holds the case) ---------------------------------

def encode(a: np.ndarray, logical: str | None = None) -> dict[str, Any]:
    """An array as JSON, losslessly: zlib-compressed raw bytes (bfloat16 travels as float32, exactly)."""
    enc = wire.encode_array(a, logical)
    return {"dtype": enc["dtype"], "store": enc["store"], "shape": enc["shape"],
            "b64": base64.b64encode(zlib.compress(enc["data"], 6)).decode("ascii")}


def decode(enc: dict[str, Any]) -> np.ndarray:
    data = zlib.decompress(base64.b64decode(enc["b64"]))
    return np.frombuffer(data, dtype=np.dtype(enc["store"])).reshape(enc["shape"]).copy()


def _call_json(binding: BindingView, case: Any, build: Any = None) -> dict[str, Any] | None:
    """The call `build` makes (default: the spec's keyword call), JSON-ready for a script."""
    request = (build or build_request_of())(binding, case, 0)
    if request is None:
        return None
    spec = binding.spec
    names = [binding.name_of(n) or n for n in spec.model.inputs]
    names += [f"arg{k}" for k in range(len(names), len(request["args"]))]  # a positional call's further arguments
    args = [_arg(n, a) for n, a in zip(names, request["args"])]
    given = request.get("init" if binding.kind == "class" else "kwargs", {})
    params = {k: ({"array": _from_wire(v)} if wire.is_array(v) else {"value": v}) for k, v in given.items()}
    init_args = [_arg(f"init{k}", a) for k, a in enumerate(request.get("init_args") or [])]
    return {"args": args, "params": params, "output": request.get("output"), "init_args": init_args}


def _arg(name: str, a: Any) -> dict[str, Any]:
    if a is None:
        return {"name": name, "none": True}
    if wire.is_array(a):
        return {"name": name, "array": _from_wire(a)}
    return {"name": name, "value": a}  # as sent: a numpy scalar stays encoded (see _value)


def build_request_of() -> Any:
    """The spec's keyword request builder; the runner imports results' neighbours, so it is imported when used."""
    from harness.run.pipeline import build_request

    return build_request


def _from_wire(a: dict[str, Any]) -> dict[str, Any]:
    return encode(wire.decode_array(a), a["dtype"])


def capture(v: Verdict) -> dict[str, Any] | None:
    """What a reproducer of this verdict needs, JSON-ready; None when it cannot be written."""
    b = v.binding
    out: dict[str, Any] = {"framework": b.framework, "target": b.target, "kind": b.kind}
    captures = registry.get(v.check).reproducer  # what the check says its reproducer shows
    if captures == "signature":
        adapter = adapter_for(b.framework)
        return {**out, "expect": "signature", "call_method": adapter.call_method,
                "documented": [list(p) for p in parse_signature(b.model.signature)],
                "documented_call": [list(p) for p in parse_signature(b.model.call)] if b.model.call else None}
    if captures == "none":
        return None  # e.g. gradients: a script of the forward call would not show the difference (see write_all)
    if v.case is None:
        if captures != "default":
            return None
        for name, param in b.spec.model.params.items():  # the parameter whose documented default differs
            common = getattr(param, "default", None)
            if b.name_of(name) and not isinstance(param, ArraySpec) and b.defaults.get(name) != common \
                    and (v.actual or {}).get("default") == b.defaults.get(name):
                return {**out, "expect": "default", "param": b.name_of(name), "common": common,
                        "documented": b.defaults.get(name)}
        return None
    if v.case.size > MAX_ELEMENTS:
        return None
    check = registry.get(v.check)
    call = _call_json(b, v.case, check.call_build(v, build_request_of()))
    if call is None:
        return None
    out["call"] = call
    if captures == "warns":
        return {**out, "expect": "warns"}
    if captures == "forms":
        form = registry.get(v.check).form(b, build_request_of())
        other = _call_json(b, v.case, form[0]) if form is not None else None
        if form is None or other is None:
            return None
        return {**out, "expect": "same", "explicit": call, "call": other, "labels": ["the spec's keyword call", form[1]]}
    if captures == "default":
        omitted = [n for n in v.case.omit]
        explicit = _call_json(b, v.case.with_(omit=()))
        return {**out, "expect": "same", "explicit": explicit, "omitted": [b.name_of(n) for n in omitted]}
    if captures == "example" and v.case.expected is not None:
        decimals = v.case.decimals if v.case.decimals is not None else 4
        want = np.asarray(v.case.expected, dtype=np.float64)
        tol = 0.5 * 10.0 ** -decimals + 4 * dtypes.eps((v.actual or {}).get("dtype") or "float64")
        return {**out, "expect": "value", "expected": {"array": encode(want), "atol": tol, "rtol": 0.0,
                                                         "limit": math.inf, "what": f"the documented output ({v.case.note})"}}
    expected = v.expected or {}
    if "error" in expected:
        return {**out, "expect": "error", "error": expected["error"], "match": expected.get("match")}
    if v.verdict == "dtype" and "dtype" in expected:
        return {**out, "expect": "dtype", "dtype": expected["dtype"]}
    own = check.reference_formula(v) or (b.formula if v.peer == "match" and b.formula is not None else None)
    ref = evaluate(own or b.spec.formula, v.case)
    if ref.value is None:
        return {**out, "expect": "value", "expected": None}
    out_dtype = (v.actual or {}).get("dtype") or "float64"
    if not dtypes.is_float(out_dtype):
        out_dtype = "float64"
    e = np.asarray(ref.value, dtype=np.float64)
    with np.errstate(all="ignore"):
        atol = compare.atol_for(out_dtype, e, ref.lowp, ref.accumulation, ref.scale)
    flat = atol.ravel()
    atol_json: Any = float(flat[0]) if flat.size and bool((flat == flat[0]).all()) else (0.0 if not flat.size else encode(atol))
    what = "the binding's own documented formula" if own is not None and own is not b.spec.formula else "the spec's common formula"
    return {**out, "expect": "value", "expected": {
        "array": encode(e), "atol": atol_json, "rtol": compare.RTOL_EPS * dtypes.eps(out_dtype),
        "limit": dtypes.max_value(out_dtype), "what": f"{what} in float64, tolerance for {out_dtype}"}}


# scripts (report side) -----------------------------------------------------------------------

class _Script:
    """Builds one script: names for arrays, inline literals or an .npz entry for each."""

    def __init__(self, stem: str) -> None:
        self.stem = stem
        self.lines: list[str] = []
        self.data: dict[str, np.ndarray] = {}

    def var(self, name: str) -> str:
        safe = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "x"
        if safe in RESERVED or safe[0].isdigit():
            safe = safe + "_"
        return safe

    def array(self, var: str, enc: dict[str, Any], comment: str = "") -> None:
        a = decode(enc)
        note = f"  # {comment}" if comment else ""
        if enc["dtype"] == "bfloat16":
            note = (note or "  #") + " bfloat16 values, exact in float32"
        if a.size == 0:  # a nested list would lose the shape of an empty array
            self.lines.append(f"{var} = np.zeros({tuple(a.shape)!r}, dtype={_np_dtype(a)}){note}")
        elif a.size <= INLINE_ELEMENTS:
            self.lines.append(f"{var} = np.array({_literal(a)}, dtype={_np_dtype(a)}){note}")
        else:
            self.data[var] = a
            self.lines.append(f"{var} = data[{var!r}]  # {a.dtype.name}, shape {list(a.shape)}" + note.replace("  #", ";", 1))


def _np_dtype(a: np.ndarray) -> str:
    """The dtype as every numpy spells it (`np.bool` is gone from numpy 1.24 to 1.26)."""
    return "np.bool_" if a.dtype == np.bool_ else f"np.{a.dtype.name}"


def _number(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return repr(bool(x))
    if isinstance(x, (int, np.integer)):
        return repr(int(x))
    f = float(x)
    if math.isnan(f):
        return "np.nan"
    if math.isinf(f):
        return "np.inf" if f > 0 else "-np.inf"
    return repr(f)


def _literal(a: np.ndarray) -> str:
    def rec(x: Any) -> str:
        return "[" + ", ".join(rec(y) for y in x) + "]" if isinstance(x, list) else _number(x)

    text = rec(a.tolist())
    if len(text) <= 90:
        return text
    return "\n    " + "\n    ".join(textwrap.wrap(text, 96, break_on_hyphens=False, break_long_words=False)) + "\n"


def _value(v: Any) -> str:
    if isinstance(v, dict) and v.get("__scalar__") is True:  # a numpy scalar parameter (wire.encode_scalar)
        return f"np.{v['dtype']}({_number(v['value'])})"
    if isinstance(v, float) or (isinstance(v, (int,)) and not isinstance(v, bool)):
        return _number(v)
    return repr(v)


_COMPARE = '''
def mismatches(actual, expected, atol, rtol, limit):
    """Where the harness's rule fails: |actual - expected| <= rtol |expected| + atol, nan meets nan, inf the same inf."""
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return f"shape {list(a.shape)}, expected {list(e.shape)}"
    with np.errstate(all="ignore"):
        ok = (a == e) | (np.isnan(a) & np.isnan(e)) | (np.isfinite(e) & (np.abs(a - e) <= rtol * np.abs(e) + atol))
        ok |= np.isfinite(e) & (np.abs(e) > limit) & np.isinf(a) & (np.sign(a) == np.sign(e))
    lines = [f"  at {[int(i) for i in index]}: expected {float(e[tuple(index)])!r}, actual {float(a[tuple(index)])!r}"
             for index in np.argwhere(~ok)[:10]]
    return "\\n".join(lines + [f"{int((~ok).sum())} of {ok.size} elements differ"]) if not ok.all() else ""
'''



def _call_lines(script: _Script, adapter: Any, repro: dict[str, Any], call: dict[str, Any], out: str = "out") -> str:
    """Array definitions appended to the script; returns the call expression."""
    def shown(arg: dict[str, Any]) -> str:
        if arg.get("none"):
            return "None"
        if "value" in arg:
            return _value(arg["value"])
        var = script.var(arg["name"])
        script.array(var, arg["array"])
        return str(adapter.snippet_tensor(var, arg["array"]["dtype"]))

    args = [shown(arg) for arg in call["args"]]
    init_args = [shown(arg) for arg in call.get("init_args") or []]
    params = {name: shown({"name": name, **p}) for name, p in call["params"].items()}
    expr = adapter.snippet_call(repro["target"], repro["kind"], args, params, init_args)
    return expr if call.get("output") is None else f"{expr}[{call['output']}]"  # a documented tuple result


def snippet(finding: dict[str, Any], versions: dict[str, str], seed: Any) -> tuple[str, dict[str, np.ndarray]]:
    """The script of one finding, and the arrays it loads from its .npz (empty when all are inline)."""
    repro = finding["repro"]
    adapter = adapter_for(repro["framework"])
    stem = finding["id"]
    s = _Script(stem)
    expect = repro["expect"]
    status = "documented" if finding["documented"] else "undocumented"
    version = versions.get(repro["framework"], "")
    head = [
        f'"""Reproduces finding {stem} ({status}): {repro["target"]}, check `{finding["check"]}`, verdict `{finding["verdict"]}`.',
        "",
        f"Found with {repro['framework']} {version} by the conformance harness (seed {seed}); run it where",
        f"{repro['framework']} is installed: `python {stem}.py`. It prints what was expected and what happened,",
        "and exits with status 1 while the discrepancy is there (0 once it is gone).",
    ]
    if finding.get("why"):
        head += ["", *textwrap.wrap(f"Documented: {finding['why']} ({finding.get('source')})", 96)]
    head.append('"""')
    module = repro["target"].rpartition(".")[0]
    imports = ["import sys", "", "import numpy as np"] + adapter.snippet_setup()
    if module != adapter.package:
        imports.insert(imports.index(f"import {adapter.package}") + 1, f"import {module}")
    body: list[str] = []
    if expect == "signature":
        imports.insert(1, "import inspect")
        body += _signature_body(repro)
    elif expect == "default":
        imports.insert(1, "import inspect")
        obj = f"{repro['target']}.__init__" if repro["kind"] == "class" else repro["target"]
        body += [f"parameter = inspect.signature({obj}).parameters[{repro['param']!r}]",
                 f"print(f\"{repro['target']}: default {repro['param']}={{parameter.default!r}}; "
                 f"the common default (PyTorch's) is {_value(repro['common'])}\")",
                 f"sys.exit(1 if parameter.default != {_value(repro['common'])} else 0)"]
    else:
        expr = _call_lines(s, adapter, repro, repro["call"])
        if expect == "same":
            # a default's two calls share their arrays (already defined); two forms name them apart: define both
            explicit = _call_lines(s if repro.get("labels") else _Script(stem), adapter, repro, repro["explicit"])
            labels = repro.get("labels") or [f"{', '.join(str(n) for n in repro['omitted'])} given its default",
                                              f"{', '.join(str(n) for n in repro['omitted'])} omitted"]
            body += _same_body(adapter, expr, explicit, labels)
        elif expect == "error":
            body += _error_body(adapter, expr, repro["error"], repro.get("match"))
        elif expect == "warns":
            body += _warns_body(expr)
        elif expect == "dtype":
            body += _try(expr, "sys.exit(1)") + adapter.snippet_result("out") + [
                f"print(f\"output dtype {{actual_dtype}}; documented {repro['dtype']}\")",
                f"sys.exit(1 if actual_dtype != {repro['dtype']!r} else 0)"]
        elif finding.get("verdict") in ("crash", "timeout"):
            body += _dies_body(expr)
        else:
            body += _value_body(s, adapter, expr, repro.get("expected"))
    lines = head + imports
    if s.data:
        lines += ["from pathlib import Path"]
    lines += [""]
    if "mismatches(" in "\n".join(body):
        lines += _COMPARE.strip("\n").splitlines() + [""]
    if s.data:
        lines += [f"data = np.load(Path(__file__).with_name({stem + '.npz'!r}))", ""]
    if s.lines:
        lines += ["# the minimal case, exactly as the harness sent it"] + s.lines + [""]
    lines += body
    return "\n".join(lines).rstrip() + "\n", s.data


def _try(expr: str, *on_error: str, out: str = "out") -> list[str]:
    return ["try:", f"    {out} = {expr}", "except Exception as exc:",
            '    print(f"raised {type(exc).__name__}: {exc}")', *[f"    {line}" for line in on_error]]


def _value_body(s: _Script, adapter: Any, expr: str, expected: dict[str, Any] | None) -> list[str]:
    if expected is None:
        return _try(expr, "sys.exit(1)") + adapter.snippet_result("out") + [
            'print("actual:", actual, actual_dtype)', "sys.exit(0)"]
    lines = [f"# expected: {expected['what']}"]
    saved = s.lines
    s.lines = []
    s.array("expected", expected["array"])
    if isinstance(expected["atol"], dict):
        s.array("atol", expected["atol"], "per element")
    else:
        s.lines.append(f"atol = {_number(expected['atol'])}")
    s.lines.append(f"rtol, limit = {_number(expected['rtol'])}, {_number(expected['limit'])}")
    lines += s.lines
    s.lines = saved
    return lines + ["", f"for attempt in range(1, {REPEAT} + 1):  # identical calls: some outputs vary from call to call",
                     *["    " + line for line in _try(expr, 'print("expected a value:", expected)', "sys.exit(1)")],
                     *["    " + line for line in adapter.snippet_result("out")],
                     "    problem = mismatches(actual, expected, atol, rtol, limit)",
                     "    if attempt == 1 or problem:",
                     '        print(f"call {attempt}: expected", expected, "actual", actual, actual_dtype)',
                     "    if problem:",
                     "        print(problem)",
                     "        sys.exit(1)",
                     f'print("no discrepancy in {REPEAT} identical calls")', "sys.exit(0)"]


def _dies_body(expr: str) -> list[str]:
    """A call that kills or hangs its process runs in a child (this script again), so the script can say so."""
    return ['if sys.argv[1:] == ["--child"]:', f"    {expr}", "    sys.exit(0)",
            "import subprocess", "", "try:",
            f'    proc = subprocess.run([sys.executable, __file__, "--child"], timeout={CHILD_TIMEOUT})',
            "except subprocess.TimeoutExpired:",
            f'    print("the call did not return within {CHILD_TIMEOUT} s")', "    sys.exit(1)",
            "if proc.returncode < 0:",
            '    print(f"the call killed the process (signal {-proc.returncode})")', "    sys.exit(1)",
            'print(f"the call returned; the child exited with status {proc.returncode}")', "sys.exit(0)"]


def _error_body(adapter: Any, expr: str, error: str, match: str | None) -> list[str]:
    check = f" and re.search({match!r}, str(exc), re.S | re.I)" if match else ""
    lines = ["import re", "", "try:", f"    out = {expr}", "except Exception as exc:",
             '    print(f"raised {type(exc).__name__}: {exc}")',
             f"    documented = {error!r} in [c.__name__ for c in type(exc).__mro__]{check}",
             f"    print(\"as documented\" if documented else \"expected {error}{' matching ' + repr(match) if match else ''}\")",
             "    sys.exit(0 if documented else 1)"]
    return lines + adapter.snippet_result("out") + [
        'print("returned:", actual, actual_dtype)', f'print("expected it to raise {error}")', "sys.exit(1)"]


def _warns_body(expr: str) -> list[str]:
    """The call with every Python warning it raises recorded: the script fails while it warns."""
    return ["import warnings", "", "with warnings.catch_warnings(record=True) as caught:",
            '    warnings.simplefilter("always")', "    try:", f"        out = {expr}", "    except Exception as exc:",
            '        print(f"raised {type(exc).__name__}: {exc}")',
            "for w in caught:", '    print(f"warns {w.category.__name__}: {w.message}")',
            'print("warnings raised:", len(caught))', "sys.exit(1 if caught else 0)"]


def _same_body(adapter: Any, omitted_expr: str, explicit_expr: str, labels: list[str]) -> list[str]:
    """Both forms of the call, repeated: the script fails while they differ. `labels`: the explicit form's, then the
    other's."""
    lines = ["def run(call):", "    try:", "        out = call()", "    except Exception as exc:",
             '        return f"raised {type(exc).__name__}"', *["    " + line for line in adapter.snippet_result("out")],
             "    return actual_dtype, actual", "",
             f"for attempt in range(1, {REPEAT} + 1):  # identical calls: some outputs vary from call to call",
             f"    omitted = run(lambda: {omitted_expr})", f"    explicit = run(lambda: {explicit_expr})",
             "    same = type(omitted) is type(explicit) and (omitted == explicit if isinstance(omitted, str) else",
             "            omitted[0] == explicit[0] and np.array_equal(omitted[1], explicit[1], equal_nan=True))",
             "    if attempt == 1 or not same:",
             f'        print(f"call {{attempt}}, {labels[1]}:", omitted)',
             f'        print(f"call {{attempt}}, {labels[0]}:", explicit)',
             "    if not same:",
             "        sys.exit(1)",
             f'print("the same in {REPEAT} identical pairs of calls")', "sys.exit(0)"]
    return lines


def _signature_body(repro: dict[str, Any]) -> list[str]:
    target, call_method = repro["target"], repro["call_method"]
    lines = [
        "",
        "def params(fn):",
        '    """(name, default) pairs; `required` for no default; *args and **kwargs left out."""',
        "    out = []",
        "    for p in inspect.signature(fn).parameters.values():",
        '        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):',
        '            out.append((p.name, "required" if p.default is p.empty else p.default))',
        "    return out",
        "",
        "",
        f"documented = {[(n, d if has else 'required') for n, d, has in repro['documented']]!r}",
    ]
    fn = f"{target}.__init__" if repro["kind"] == "class" else target
    lines += [f"actual = params({fn})"]
    checks = ["actual != documented"]
    if repro.get("documented_call") is not None:
        lines += [f"documented_call = {[(n, d if has else 'required') for n, d, has in repro['documented_call']]!r}",
                  f"actual_call = params({target}.{call_method})",
                  'print("call, documented:", documented_call)', 'print("call, actual:    ", actual_call)']
        checks.append("actual_call != documented_call")
    lines += ['print("documented:", documented)', 'print("actual:    ", actual)', f"sys.exit(1 if {' or '.join(checks)} else 0)"]
    return lines


def write_all(report: dict[str, Any], directory: Path) -> dict[str, dict[str, Any]]:
    """Write every finding's script (and .npz) under `directory`; return finding id -> {path, code} or {missing}."""
    from harness.files import write_atomic

    directory.mkdir(parents=True, exist_ok=True)
    for old in list(directory.glob("*.py")) + list(directory.glob("*.npz")):
        old.unlink()  # ids of an earlier run's findings must not linger
    out: dict[str, dict[str, Any]] = {}
    for f in report.get("findings", []):
        if not f.get("repro"):
            check = registry.find(f.get("check", ""))
            out[f["id"]] = {"missing": check.no_script if check is not None and check.reproducer == "none" else
                            "this finding's case cannot be written as a call (too large, or no call was made)"}
            continue
        try:
            code, data = snippet(f, report.get("frameworks", {}), report.get("seed"))
        except NotImplementedError:
            out[f["id"]] = {"missing": f"the {f['framework']} adapter does not say how to write a call"}
            continue
        path = directory / f"{f['id']}.py"
        write_atomic(path, code)
        if data:
            buf = io.BytesIO()
            np.savez_compressed(buf, **data)  # type: ignore[arg-type]
            (directory / f"{f['id']}.npz").write_bytes(buf.getvalue())
        out[f["id"]] = {"path": f"repro/{path.name}", "code": code, "data": f"repro/{f['id']}.npz" if data else None}
    return out
