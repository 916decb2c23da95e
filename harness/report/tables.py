"""API-difference tables: the specs' names, defaults and documented differences per framework, in the
form of the "differences from PyTorch" pages (a row per input or parameter, a column per framework,
a difference column), with every documented claim checked against the run.

A claim (a spec's `claims:`, one row of such a page) is confirmed when the run shows what it says
and contradicted when the run shows otherwise; each names the findings or checks behind it. A
name or default is as documented when the binding's signature check introspected it so.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.checks import registry
from harness.run.frameworks import registry as frameworks
from harness.spec.model import ArraySpec, Spec, parse_signature

REFERENCE = frameworks.REFERENCE  # the framework the pages compare with
_REF = frameworks.get(REFERENCE).display
BEHAVIOUR = tuple(n for n in registry.names() if n != "signature")
"""Checks of what a binding does (the signature check is about what it is called with)."""
ABSENT = "—"


# the spec side, captured during the run so a report can be re-rendered from its parts ------------

def api_json(spec: Spec, root: Path, seed: int) -> dict[str, Any]:
    """What the tables, the formula display and the plots need to know about one spec."""
    from harness.report import plots

    m = spec.model
    inputs = list(m.inputs) + [n for v in m.variants.values() for n in v.inputs if n not in m.inputs]
    params = {n: {"default": None if isinstance(p, ArraySpec) else p.default, "tensor": isinstance(p, ArraySpec)}
              for n, p in m.params.items()}
    frameworks: dict[str, Any] = {}
    for name, fw in m.frameworks.items():
        if fw.missing is not None:
            frameworks[name] = {"missing": {"source": fw.missing.source, "note": fw.missing.note}}
            continue
        bindings = []
        for b in (b for b in spec.bindings if b.framework == name):
            bindings.append({
                "target": b.target, "kind": b.kind, "docs": b.docs, "signature": b.model.signature, "call": b.model.call,
                "params": [list(p) for p in parse_signature(b.model.signature)],
                "names": {n: b.name_of(n) for n in inputs + list(params)},
                "defaults": {k: v for k, v in b.defaults.items() if k in params and not params[k]["tensor"]},
                "dtypes": b.dtypes, "formula": b.formula.source if b.formula is not None else None,
                "extra": {k: f.source for k, f in b.extra.items()}, "alias_of": b.model.alias_of,
                "differences": [d.model_dump(exclude_defaults=True) for d, _ in b.differences],
                "raises": [r.model_dump(exclude_defaults=True) for r, _ in b.raises],
                "claims": [c.model_dump() for c in b.model.claims + fw.claims],
            })
        frameworks[name] = {"docs": fw.docs, "line": spec.line("frameworks", name), "bindings": bindings}
    try:
        file = str(Path(spec.path).resolve().relative_to(root))
    except ValueError:
        file = str(spec.path)
    return {"api": m.api, "title": m.title, "docs": m.docs, "file": file, "formula": m.formula,
            "formula_line": spec.line("formula"), "inputs": inputs, "params": params,
            "raises": [r.model_dump(exclude_defaults=True) for r in m.raises],
            "frameworks": frameworks, "plots": plots.reference(spec, seed)}


# the tables -------------------------------------------------------------------------------

def _short(target: str) -> str:
    return target.split(".", 1)[1] if "." in target else target


def _mentions(text: str, name: str | None) -> bool:
    return bool(name) and re.search(rf"(?<![\w.]){re.escape(name or '')}(?!\w)", text or "") is not None


def _related(f: dict[str, Any], name: str) -> bool:
    """A finding bears on a row when its region singles out values of that parameter, or it probes
    that input or parameter (dtype restrictions belong to the dtypes row)."""
    region = f.get("region") or {}
    return name in region or name in region.get("probe", [])


class _Run:
    """The run's evidence about one API: its findings and which checks ran, per target."""

    def __init__(self, api: str, report: dict[str, Any]) -> None:
        self.findings = [f for f in report.get("findings", []) if f["api"] == api]
        self.targets = {t["target"]: t for t in report.get("targets", []) if t["api"] == api}
        self.versions: dict[str, str] = report.get("frameworks", {})

    def ran(self, target: str, check: str) -> bool:
        t = self.targets.get(target)
        return t is not None and not t.get("error") and bool(t.get("counts", {}).get(check))

    def of(self, target: str, checks: tuple[str, ...] = BEHAVIOUR) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["target"] == target and f["check"] in checks]

    def signature_problem(self, target: str, name: str) -> list[dict[str, Any]]:
        return [f for f in self.of(target, ("signature",)) if _mentions(f.get("message", ""), name)]


def _fmt(v: Any) -> str:
    return repr(v)


def build(api: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """The table of one API: rows with a cell per framework, the differences, and the checked claims."""
    run = _Run(api["api"], report)
    fws = [f for f in frameworks.names() if f in api["frameworks"]]
    rows: list[dict[str, Any]] = []
    spec_names = list(api["inputs"]) + list(api["params"])
    mapped: dict[str, set[str]] = {fw: set() for fw in fws}
    for fw in fws:
        for b in api["frameworks"][fw].get("bindings", []):
            mapped[fw] |= {v for v in b["names"].values() if v}
            mapped[fw] |= {n for n in b.get("extra", {})}  # set by the harness, shown on the row of the harness's input
    for name in spec_names:
        rows.append(_spec_row(api, run, fws, name))
    extra: list[str] = []
    for fw in fws:
        for b in api["frameworks"][fw].get("bindings", []):
            for n, _, _ in b["params"]:
                if n not in mapped[fw] and n not in extra and n not in spec_names:
                    extra.append(n)
    for name in extra:
        rows.append(_extra_row(api, run, fws, name))
    rows += _behaviour_rows(api, run, fws)
    _place_claims(api, run, rows)
    return {"api": api["api"], "title": api["title"], "frameworks": fws, "rows": rows, "file": api["file"]}


def _bindings(api: dict[str, Any], fw: str) -> list[dict[str, Any]]:
    return api["frameworks"][fw].get("bindings", [])


def _cell(run: _Run, bindings: list[dict[str, Any]], texts: list[tuple[str, str]], related: list[dict[str, Any]],
          sig_names: list[tuple[str, str]]) -> dict[str, Any]:
    """texts: (target, text); sig_names: (target, name) whose signature the run introspected."""
    if not bindings:
        return {"text": "", "status": "missing", "findings": []}
    distinct = sorted({t for _, t in texts})
    lines = [(distinct[0], "")] if len(distinct) == 1 else [(t, _short(tg)) for tg, t in texts]
    text = " · ".join(f"{t} ({b})" if b else t for t, b in lines)
    sig_bad = [f for tg, n in sig_names for f in run.signature_problem(tg, n)]
    undocumented = [f for f in related + sig_bad if not f["documented"]]
    documented = [f for f in related + sig_bad if f["documented"]]
    ran = any(run.ran(b["target"], "signature") or run.ran(b["target"], "values") for b in bindings)
    status = "undocumented" if undocumented else ("documented" if documented else ("match" if ran else "none"))
    return {"text": text, "lines": lines, "status": status, "findings": [f["id"] for f in undocumented + documented]}


def _spec_row(api: dict[str, Any], run: _Run, fws: list[str], name: str) -> dict[str, Any]:
    is_input = name in api["inputs"]
    cells: dict[str, Any] = {}
    names: dict[str, set[str]] = {}
    defaults: dict[str, set[str]] = {}
    for fw in fws:
        bs = _bindings(api, fw)
        texts, sig_names, related = [], [], []
        for b in bs:
            n = b["names"].get(name)
            if n is None:
                texts.append((b["target"], ABSENT))
                continue
            harness_set = n in b.get("extra", {})
            default = b["defaults"].get(name) if not is_input else None
            sig_default = next((d for p, d, has in b["params"] if p == n and has), default)
            shown = n if is_input or api["params"].get(name, {}).get("tensor") else f"{n}={_fmt(sig_default)}"
            texts.append((b["target"], shown + (" (the harness passes it)" if harness_set else "")))
            sig_names.append((b["target"], n))
            related += [f for f in run.of(b["target"]) if _related(f, name)]
            names.setdefault(fw, set()).add(n)
            if not is_input:
                defaults.setdefault(fw, set()).add(_fmt(sig_default))
        cells[fw] = _cell(run, bs, texts, related, sig_names) if bs else {"text": "", "status": "missing", "findings": []}
    return {"kind": "input" if is_input else "parameter", "name": name, "cells": cells,
            "difference": _differences(fws, names, defaults, api), "claims": []}


def _extra_row(api: dict[str, Any], run: _Run, fws: list[str], name: str) -> dict[str, Any]:
    cells = {}
    present: dict[str, set[str]] = {}
    for fw in fws:
        bs = _bindings(api, fw)
        texts, sig_names = [], []
        for b in bs:
            hit = next(((d, has) for p, d, has in b["params"] if p == name), None)
            texts.append((b["target"], ABSENT if hit is None else (f"{name}={_fmt(hit[0])}" if hit[1] else name)))
            sig_names.append((b["target"], name))
            if hit is not None:
                present.setdefault(fw, set()).add(name)
        cells[fw] = _cell(run, bs, texts, [], sig_names) if bs else {"text": "", "status": "missing", "findings": []}
    only = [fw for fw in fws if fw in present]
    diff = [{"text": f"only in {', '.join(only)}" if len(only) < len([f for f in fws if _bindings(api, f)]) else "—"}]
    return {"kind": "framework-only parameter", "name": name, "cells": cells, "difference": diff, "claims": []}


def _differences(fws: list[str], names: dict[str, set[str]], defaults: dict[str, set[str]], api: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    with_api = [fw for fw in fws if _bindings(api, fw)]
    absent = [fw for fw in with_api if fw not in names]
    if absent:
        out.append({"text": f"not supported in {', '.join(absent)}"})
    distinct_names = {n for v in names.values() for n in v}
    if len(distinct_names) > 1:
        out.append({"text": "named " + "; ".join(f"{fw}: {' / '.join(sorted(v))}" for fw, v in names.items())})
    distinct_defaults = {d for v in defaults.values() for d in v}
    if len(distinct_defaults) > 1:
        out.append({"text": "default " + "; ".join(f"{fw}: {' / '.join(sorted(v))}" for fw, v in defaults.items())})
    return out or [{"text": "—"}]


def _behaviour_rows(api: dict[str, Any], run: _Run, fws: list[str]) -> list[dict[str, Any]]:
    rows = []
    for unit in registry.table_rows():
        label, check = unit.table.label, unit.name  # type: ignore[union-attr]
        cells: dict[str, Any] = {}
        diffs: list[dict[str, Any]] = []
        if not any(run.ran(b["target"], check) for fw in fws for b in _bindings(api, fw)):
            continue
        for fw in fws:
            bs = _bindings(api, fw)
            texts = [(b["target"], unit.table_text(api, b)) for b in bs]
            related = [f for b in bs for f in run.of(b["target"], (check,))]
            cells[fw] = _cell(run, bs, texts, related, []) if bs else {"text": "", "status": "missing", "findings": []}
            seen: set[object] = set()
            for b in bs:
                for d in b["differences"]:
                    key = (d["what"], d["source"])
                    if d["check"] == check and key not in seen:
                        seen.add(key)
                        diffs.append({"text": f"{fw}: {d['what']}", "source": d["source"]})
                if check == "values" and b["formula"] and "formula" not in seen:
                    seen.add("formula")
                    diffs.append({"text": f"{fw} documents another formula", "source": b["docs"]})
        rows.append({"kind": "behaviour", "name": label, "check": check, "cells": cells,
                     "difference": diffs or [{"text": "—"}], "claims": []})
    return rows


def _place_claims(api: dict[str, Any], run: _Run, rows: list[dict[str, Any]]) -> None:
    by_name = {r["name"]: r for r in rows if r["kind"] != "behaviour"}
    overall: dict[str, Any] = {"kind": "behaviour", "name": "whole API", "check": None, "cells": {}, "difference": [{"text": "—"}], "claims": []}
    for fw in api["frameworks"]:
        for b in _bindings(api, fw):
            for c in b["claims"]:
                row = by_name.get(c["param"]) if c["param"] else overall
                if row is None:
                    continue
                row["claims"].append(verify(api, run, fw, b, c))
    if overall["claims"]:
        rows.append(overall)


def _name_in(b: dict[str, Any], param: str) -> str | None:
    """The binding's own name for a spec name or a framework-only parameter; None when it has none."""
    if param in b["names"]:
        return b["names"][param]
    return param if any(p == param for p, _, _ in b["params"]) else None


def _default_in(b: dict[str, Any], name: str | None) -> Any:
    return next((d for p, d, has in b["params"] if p == name and has), None)


def verify(api: dict[str, Any], run: _Run, fw: str, b: dict[str, Any], claim: dict[str, Any]) -> dict[str, Any]:
    """Confirm or contradict one documented claim with the run's evidence."""
    out = {"framework": fw, "target": b["target"], **claim, "status": "confirmed", "reasons": [], "findings": []}
    target, param, kind = b["target"], claim["param"], claim["kind"]
    if not (run.ran(target, "signature") or run.ran(target, "values")):
        return {**out, "status": "not run", "reasons": [f"{target} did not run"]}
    refs = _bindings(api, REFERENCE) if REFERENCE in api["frameworks"] else []
    ref = next((r for r in refs if r["kind"] == b["kind"]), refs[0] if refs else None)
    problems: list[str] = []
    evidence: list[dict[str, Any]] = []
    if param is None:
        bad = [f for f in run.of(target) if not f["documented"]]
        if kind in ("same", "name", "default"):
            if bad:
                problems.append(f"{len(bad)} undocumented discrepanc{'ies' if len(bad) != 1 else 'y'} in "
                                f"{', '.join(sorted({f['check'] for f in bad}))}")
            evidence += bad
        else:
            evidence += run.of(target)
            if not evidence:
                problems.append("the run saw no discrepancy")
        return _result(out, problems, evidence, "" if problems else "no undocumented discrepancy in any check")
    mine = _name_in(b, param)
    theirs = _name_in(ref, param) if ref else None
    sig_bad = run.signature_problem(target, mine or param)
    if sig_bad:
        problems.append(f"its signature is not as documented ({sig_bad[0]['message'][:120]})")
        evidence += sig_bad
    confirmed_by = f"{target}'s introspected signature"
    if kind == "absent":
        if mine is not None:
            problems.append(f"{target} has {mine}")
        return _result(out, problems, evidence, f"{confirmed_by} has no {param}")
    if kind == "only":
        if ref is None:
            return {**out, "status": "not run", "reasons": [f"{_REF} is not in this spec"]}
        ref_bad = run.signature_problem(ref["target"], param)
        if theirs is not None and not ref_bad and run.ran(ref["target"], "signature"):
            version = run.versions.get(REFERENCE, "")
            problems.append(f"{ref['target']} {version} has {theirs}={_fmt(_default_in(ref, theirs))} (introspected)")
        return _result(out, problems, evidence + ref_bad, f"{ref['target']} has no {param}")
    behaviour = [f for f in run.of(target) if _related(f, param)]
    undocumented = [f for f in behaviour if not f["documented"]]
    if kind in ("same", "name", "default"):
        if undocumented:
            problems.append(f"{len(undocumented)} undocumented discrepanc{'ies' if len(undocumented) != 1 else 'y'} "
                            f"where {param} is singled out")
            evidence += undocumented
        if ref is not None and mine is not None and theirs is not None:
            same_name = mine == theirs
            same_default = _fmt(_default_in(b, mine)) == _fmt(_default_in(ref, theirs))
            if kind == "name" and same_name:
                problems.append(f"the name is the same ({mine})")
            if kind != "name" and not same_name:
                problems.append(f"named {mine}, {_REF} {theirs}")
            if kind == "default" and same_default:
                problems.append(f"the default is the same ({_fmt(_default_in(b, mine))})")
            if kind != "default" and not same_default and param in api["params"]:
                problems.append(f"default {_fmt(_default_in(b, mine))}, {_REF} {_fmt(_default_in(ref, theirs))}")
        if mine is None:
            problems.append(f"{target} has no {param}")
        evidence += [f for f in behaviour if f["documented"]]
        detail = {"same": "same name and default, no undocumented discrepancy involving it",
                  "name": f"named {mine} ({_REF}: {theirs}), no undocumented discrepancy involving it",
                  "default": f"default {_fmt(_default_in(b, mine))} ({_REF}: {_fmt(_default_in(ref, theirs)) if ref else '?'})"}[kind]
        return _result(out, problems, evidence, f"{confirmed_by}: {detail}")
    evidence += behaviour  # differs: a discrepancy involving the parameter must show
    if not behaviour:
        problems.append("the run saw no discrepancy involving it")
    return _result(out, problems, evidence, "the run shows discrepancies involving it")


def _result(out: dict[str, Any], problems: list[str], evidence: list[dict[str, Any]], ok: str) -> dict[str, Any]:
    seen: list[str] = []
    for f in evidence:
        if f["id"] not in seen:
            seen.append(f["id"])
    return {**out, "status": "contradicted" if problems else "confirmed", "reasons": problems or [ok], "findings": seen}


def tables(report: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for api in sorted(report.get("apis", {}).values(), key=lambda a: a["api"]):
        t = build(api, report)
        out.append(t)
    return out


# Markdown -------------------------------------------------------------------------------

_MARK = {"match": "✔", "documented": "◐", "undocumented": "✘", "none": "·", "missing": ""}
_CLAIM = {"confirmed": "✔ confirmed", "contradicted": "✘ contradicted", "not run": "· not run"}


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _links(ids: list[str], page: str) -> str:
    return ", ".join(f"[{i}]({page}#{i})" for i in ids)


def markdown(table: dict[str, Any], report: dict[str, Any], page: str = "../index.html") -> str:
    fws = table["frameworks"]
    versions = report.get("frameworks", {})
    lines = [f"# {table['title']}: differences between {', '.join(fws)}", "",
             f"Generated from `{table['file']}` and checked by the run of seed {report.get('seed')} "
             f"({', '.join(f'{k} {v}' for k, v in versions.items())}). ✔ as documented · ◐ documented differences seen · "
             "✘ undocumented discrepancies (linked) · — not supported.", ""]
    lines.append("| kind | row | " + " | ".join(fws) + " | difference | documented claims, checked by the run |")
    lines.append("|---" * (len(fws) + 4) + "|")
    for r in table["rows"]:
        cells = []
        for fw in fws:
            c = r["cells"].get(fw)
            if not c or c["status"] == "missing":
                cells.append("no counterpart" if fw in table["frameworks"] else "")
                continue
            mark = _MARK[c["status"]]
            link = f" {_links(c['findings'], page)}" if c["findings"] else ""
            cells.append(_md(f"`{c['text']}` {mark}{link}" if r["kind"] != "behaviour" else f"{c['text']} {mark}{link}"))
        diff = "<br>".join(_md(d["text"]) + (f" ([source]({d['source']}))" if d.get("source") else "") for d in r["difference"])
        claims = "<br>".join(
            _md(f"{_CLAIM[c['status']]}: {c['framework']} ({_short(c['target'])}) \"{c['what']}\" — {'; '.join(c['reasons'])}")
            + f" ([source]({c['source']}))" + (f" {_links(c['findings'], page)}" if c["findings"] else "")
            for c in r["claims"])
        lines.append(f"| {r['kind']} | {_md(r['name'])} | " + " | ".join(cells) + f" | {diff} | {claims} |")
    return "\n".join(lines) + "\n"


def write_markdown(report: dict[str, Any], directory: Path, built: list[dict[str, Any]] | None = None) -> list[Path]:
    from harness.files import write_atomic

    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.md"):
        old.unlink()
    paths = []
    for t in built if built is not None else tables(report):
        path = directory / f"{t['api']}.md"
        write_atomic(path, markdown(t, report))
        paths.append(path)
    return paths
