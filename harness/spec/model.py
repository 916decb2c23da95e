"""API specs: the YAML format, its validation, and the merged view of one framework binding.

A spec holds what documentation states about one API concept. Everything is validated on load;
a problem becomes a `SourceError` naming the file, the line and the fix, and never stops other
specs from loading (see `load_all`).
"""
from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from harness.run.frameworks import registry
from harness.spec import formula as formula_mod
from harness.spec import probes
from harness.spec.names import CheckName
from harness.spec.source import Located, SourceError, load

FRAMEWORKS = registry.names()  # a spec's `frameworks:` keys; display order
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
ALL_DTYPES = FLOAT_DTYPES + ("int8", "uint8", "int16", "int32", "int64", "bool")
PLOT_HELPERS = frozenset({"linspace", "uniform", "randint"})  # seeded helpers a plot's input expressions may call
_API_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TARGET = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
#: Elements all arrays of one case may hold together: generation shrinks dims to stay under it, so a
#: case needs at most tens of MB (float64) whatever the spec's dims allow.
MAX_CASE_ELEMENTS = 1 << 21


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dim(_Model):
    """A named size; `rank` makes it variadic (a run of dims, e.g. `D...`)."""

    min: int = Field(0, ge=0)
    max: int = Field(6, ge=0, le=4096)
    rank: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Dim:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if self.rank and not 0 <= self.rank[0] <= self.rank[1] <= 8:
            raise ValueError("rank must be [low, high] with 0 <= low <= high <= 8")
        return self


class ArraySpec(_Model):
    """One tensor argument: an input, or a tensor-valued parameter such as a class weight."""

    dtypes: list[str] | str = "like input"  # a list, or "like NAME"
    shape: list[int | str] | str = "like input"  # dims, or "like NAME"
    values: Literal["real", "positive", "unit", "index", "probabilities", "sign", "binary", "padded_index",
                    "log_probabilities", "lengths"] = "real"
    classes: str | None = None  # for `index`, `padded_index` and `probabilities`: the dim that counts classes
    axis: int = 1  # for `probabilities` / `log_probabilities`: the axis that (log-)sums to one
    ignore: str | None = None  # for `index`: a parameter whose value may appear as a target
    exclude: str | None = None  # for `index`: a parameter whose value never appears (e.g. a blank label)
    bound: str | None = None  # for `lengths`: the dim that bounds every length
    above: str | None = None  # for `lengths`: an input whose elements are lower bounds, where the bound allows
    ties: list[str] = []  # expressions for elements placed exactly at formula thresholds
    optional: bool = False  # may be None (then `default` must be null)
    default: None = None
    grad: bool | None = None  # differentiable? default: a float input that is not an index or probabilities

    @field_validator("dtypes")
    @classmethod
    def _dtypes(cls, v: Any) -> Any:
        if isinstance(v, list):
            bad = [d for d in v if d not in ALL_DTYPES]
            if bad:
                raise ValueError(f"unknown dtype(s) {bad}; known: {list(ALL_DTYPES)}")
        elif not v.startswith("like "):
            raise ValueError("dtypes must be a list or 'like NAME'")
        return v


class Param(_Model):
    """A scalar parameter. `min`/`max` bound the documented valid range (inclusive unless `exclusive`)."""

    type: Literal["float", "int", "bool", "str"]
    default: Any = None
    enum: list[Any] | None = None
    min: float | None = None
    max: float | None = None
    exclusive_min: bool = False
    special: list[Any] = []  # values always worth drawing (thresholds, zero, ...)


class Raise(_Model):
    when: str
    error: str  # an exception class name (matched against the raised type's MRO), or "none": documented not to raise
    match: str | None = None  # a regular expression the message should contain
    source: str | None = None  # the page that states the rule (a URL)
    quote: str | None = None  # the sentence of that page that states it, quoted


class Difference(_Model):
    """A documented way a binding differs from the common spec.

    It explains a discrepancy of every check unless `check` scopes it to one (a behaviour a doc
    states shows in every check that meets it: a broadcast accepted is a value and a missing raise).
    """

    check: CheckName | None = None  # the one check it explains (default: every check)
    what: str
    source: str  # the page that states it (a URL)
    quote: str | None = None  # the sentence of that page that states it, quoted
    when: str | None = None
    verdicts: list[str] = []  # the verdicts it explains (default: any)

    @model_serializer(mode="wrap")
    def _always_name_check(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        data.setdefault("check", self.check)  # readers index it even when absent (None: every check)
        return data


class Subgradient(_Model):
    """The gradient a binding gives where the formula has a kink (its left and right derivatives differ)."""

    # left/right derivative, the one of least magnitude between them (PyTorch's documented rule), their mean, or 0
    side: Literal["left", "right", "min_norm", "mean", "zero"]
    at: str | None = None  # elementwise condition over the case selecting the kinks meant (default: all)
    inputs: list[str] = []  # the inputs it applies to (default: all)
    source: str | None = None  # the documentation that states it; none: observed, the docs are silent
    quote: str | None = None  # the sentence of that page that states it, quoted
    note: str = ""


class Gradients(_Model):
    """Spec-level gradient settings."""

    skip: str | None = None  # no gradient check for this spec, for this stated reason
    subgradients: list[Subgradient] = []  # the common choice at kinks (what peers are compared with)
class Claim(_Model):
    """One row of a documentation page comparing this API with PyTorch's, as the page states it.

    kind: same (functionally consistent), name (consistent, named differently), default
    (consistent, another default), absent (this framework has no such parameter), only (PyTorch
    has none), differs (a behaviour difference the page describes). `param` names the spec's
    input or parameter, or a framework-only parameter; none: a claim about the whole API.
    """

    kind: Literal["same", "name", "default", "absent", "only", "differs"]
    param: str | None = None
    what: str
    source: str


class Option(_Model):
    """A framework-only parameter at a documented value other than the one the spec's call leaves it at (e.g. paddle's
    is_huber=False): what a porting tool writes to get the common behaviour, or a documented mode of its own.

    `formula`: what the framework's docs say it then computes (the spec's inputs and parameters as variables); none:
    the docs say it computes the common formula (what the peers compute). `when`: the cases it applies to."""

    value: Any
    formula: str | None = None
    when: str | None = None
    source: str
    quote: str


class Unbatched(_Model):
    """The documented form without the batch dimension (torch's "(C) for unbatched input"): `dim` dropped from every
    array whose shape has it (a class-index target of shape (N) becomes 0-d). The formula and every condition
    still see the batched form (the dim put back with size 1), and the reference of 'none' loses it again from the
    output's first axis, where a loss keeps its batch."""

    dim: str
    when: str | None = None  # the batched cases that have the form (a condition on them), e.g. "ndim(input) == 2"
    source: str
    quote: str
    cases: int = Field(8, ge=1, le=64)  # core cases drawn in this form


class Invalid(_Model):
    """How to make a deliberately invalid case, to probe raise conditions."""

    param: str | None = None
    values: list[Any] = []
    input: str | None = None
    shape: Literal["mismatched", "extra_dim"] | None = None
    dtype: str | None = None
    fill: str | None = None  # an expression over the case whose value fills the input

    @model_validator(mode="after")
    def _one_kind(self) -> Invalid:
        if bool(self.param) == bool(self.input):
            raise ValueError("name exactly one of `param` (with `values`) or `input` (with `shape` or `dtype`)")
        if self.param and not self.values:
            raise ValueError("a `param` probe needs `values`")
        if self.input and not (self.shape or self.dtype or self.fill):
            raise ValueError("an `input` probe needs `shape`, `dtype` or `fill`")
        return self


class Variant(_Model):
    """An alternative form of the inputs (e.g. class indices vs. class probabilities)."""

    inputs: dict[str, ArraySpec] = {}


class Overrides(_Model):
    """What a framework or one binding documents differently from the common spec."""

    docs: str | None = None
    names: dict[str, str | None] = {}  # spec name -> framework name (null: not supported)
    defaults: dict[str, Any] = {}
    dtypes: dict[str, list[str]] = {}  # input name -> documented dtypes
    variants: list[str] | None = None  # variants this binding documents
    raises: list[Raise] = []
    formula: str | None = None  # the binding's own documented formula, where it differs
    formula_quote: str | None = None  # the sentence of its docs page that states that formula, quoted
    extra: dict[str, str] = {}  # framework-only arguments: name -> expression over the case
    options: dict[str, list[Option]] = {}  # framework-only parameters at their other documented values (checks/options.py)
    known_differences: list[Difference] = []
    grad: list[str] | None = None  # inputs whose gradients it supports (default: every differentiable input)
    subgradients: list[Subgradient] = []  # what it gives at kinks, with the doc that says so
    claims: list[Claim] = []  # a "differences from PyTorch" page's rows, checked by the run (never excuse a verdict)


class Binding(Overrides):
    target: str
    kind: Literal["class", "function"]
    signature: str  # as documented: constructor (class) or function signature
    call: str | None = None  # documented call inputs of a class, e.g. "(logits, labels)"
    output_dtype: str | None = None
    output_index: int | None = None  # documented to return a tuple: the position of the loss in it
    alias_of: str | None = None  # documented as another name for this target (still run: aliases can drift)


class Missing(_Model):
    """A framework documents no counterpart: the report lists the API as missing there."""

    source: str  # where that was established (the framework's API list or mapping page)
    note: str = ""


class Framework(Overrides):
    bindings: list[Binding] = []
    missing: Missing | None = None

    @model_validator(mode="after")
    def _bindings_or_missing(self) -> Framework:
        if bool(self.bindings) == (self.missing is not None):
            raise ValueError("give either `bindings` (the framework's counterparts) or `missing: {source: URL}`, "
                             "not both and not neither")
        return self


class PlotX(_Model):
    name: str
    values: list[float] | None = None  # one case per value (y: error), or
    start: float = -3.0  # an evenly spaced array (y: value)
    stop: float = 3.0
    points: int = Field(121, ge=2, le=2001)


class Plot(_Model):
    """A picture over one swept variable: every framework's output (y: value, elementwise APIs) or
    its relative error against the reference (y: error, e.g. reductions against their size)."""

    title: str
    x: PlotX
    inputs: dict[str, str]  # input -> expression over x (with linspace, uniform, randint)
    params: dict[str, list[Any]] = {}  # a panel per combination; parameters not named keep their default
    variant: str | None = None
    y: Literal["value", "error"] = "value"
    dtype: Literal["float16", "bfloat16", "float32", "float64"] = "float64"  # what `x` and float inputs are cast to


class SpecModel(_Model):
    api: str
    title: str
    docs: list[str] = []
    dims: dict[str, Dim] = {}
    inputs: dict[str, ArraySpec]
    params: dict[str, Param | ArraySpec] = {}
    variants: dict[str, Variant] = {}
    output: dict[str, str] = {}  # {dtype: expr, shape: expr}
    formula: str
    raises: list[Raise] = []
    invalid: list[Invalid] = []  # probes no declaration implies (the derived ones: harness/spec/probes.py)
    unbatched: Unbatched | None = None  # the form without the batch dim, where the docs state one
    exclude_probes: list[str] = []  # derived probes (their keys) or probe groups this spec does not run
    gradients: Gradients = Gradients()
    plots: list[Plot] = []
    frameworks: dict[str, Framework]

    @field_validator("api")
    @classmethod
    def _api_name(cls, v: str) -> str:
        if not _API_NAME.match(v):
            raise ValueError(f"{v!r} is not a plain lower_snake_case name (it names report files)")
        return v

    @field_validator("frameworks")
    @classmethod
    def _known_frameworks(cls, v: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(v) - set(FRAMEWORKS))
        if unknown:
            raise ValueError(f"unknown framework(s) {unknown}; known: {list(FRAMEWORKS)}")
        return v


@dataclass(frozen=True)
class OptionView:
    """One documented value of a framework-only parameter, its formula and condition compiled."""

    param: str
    model: Option
    formula: formula_mod.Formula | None  # None: the common formula
    when: formula_mod.Formula | None

    @property
    def label(self) -> str:
        return f"{self.param}={self.model.value!r}"


@dataclass(frozen=True)
class BindingView:
    """One binding with its framework's and its own overrides merged over the common spec."""

    spec: Spec
    framework: str
    model: Binding
    names: dict[str, str | None]
    defaults: dict[str, Any]
    dtypes: dict[str, list[str]]
    variants: list[str] | None
    raises: list[tuple[Raise, formula_mod.Formula]]
    formula: formula_mod.Formula | None
    extra: dict[str, formula_mod.Formula]
    options: list[OptionView]
    differences: list[tuple[Difference, formula_mod.Formula | None]]
    docs: str | None
    grad: list[str] | None = None
    subgradients: list[tuple[Subgradient, formula_mod.Formula | None]] = field(default_factory=list)

    @property
    def target(self) -> str:
        return self.model.target

    @property
    def kind(self) -> str:
        return self.model.kind

    def name_of(self, spec_name: str) -> str | None:
        return self.names.get(spec_name, spec_name)


@dataclass
class Spec:
    """A loaded, validated spec: the model plus compiled formulas and where each thing stands."""

    path: Path
    source: Located
    model: SpecModel
    formula: formula_mod.Formula
    raises: list[tuple[Raise, formula_mod.Formula]]
    output: dict[str, formula_mod.Formula]
    ties: dict[str, list[formula_mod.Formula]]
    fills: dict[int, formula_mod.Formula] = field(default_factory=dict)
    bindings: list[BindingView] = field(default_factory=list)
    subgradients: list[tuple[Subgradient, formula_mod.Formula | None]] = field(default_factory=list)
    plot_inputs: list[dict[str, formula_mod.Formula]] = field(default_factory=list)  # per plot: input -> expression
    unbatched_when: formula_mod.Formula | None = None
    probes: list[probes.Probe] = field(default_factory=list)  # invalid-input probes, written and derived

    @property
    def api(self) -> str:
        return self.model.api

    def line(self, *path: Any) -> int | None:
        return self.source.line(path)

    def binding(self, target: str) -> BindingView:
        for b in self.bindings:
            if b.target == target:
                return b
        raise KeyError(target)


def parse_signature(text: str) -> list[tuple[str, Any, bool]]:
    """`(a, b=1)` -> [(name, default, has_default)]; only literal defaults are accepted."""
    return list(_signature(text)[0])


def positional_params(text: str) -> list[tuple[str, Any, bool]]:
    """The parameters of a documented signature that can be passed by position (those before `*` or `*args`)."""
    params, count = _signature(text)
    return list(params[:count])


@functools.lru_cache(maxsize=1024)
def _signature(text: str) -> tuple[tuple[tuple[str, Any, bool], ...], int]:
    """The signature's parameters and how many can be passed by position, parsed once per text (the positional
    and naive-port checks ask for every case they try)."""
    tree = ast.parse(f"def f{text.strip()}: pass")
    fn = tree.body[0]
    assert isinstance(fn, ast.FunctionDef)
    args = fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs
    defaults = [None] * (len(fn.args.posonlyargs + fn.args.args) - len(fn.args.defaults)) + list(fn.args.defaults)
    defaults += list(fn.args.kw_defaults)
    out = []
    for arg, default in zip(args, defaults):
        if arg.arg == "self":
            continue
        out.append((arg.arg, ast.literal_eval(default) if default is not None else None, default is not None))
    count = len(fn.args.posonlyargs + fn.args.args) - any(a.arg == "self" for a in fn.args.posonlyargs + fn.args.args)
    return tuple(out), count


def load_spec(path: str | Path, text: str | None = None) -> Spec:
    """Load and validate one spec; raise SourceError with file, line and fix."""
    path = Path(path)
    located = load(path, text)
    if not isinstance(located.data, dict):
        raise SourceError(path, located.line(()), "is not a mapping of spec fields", "start with `api: name`")
    frameworks = located.data.get("frameworks")
    for name in frameworks if isinstance(frameworks, dict) else ():
        if name not in FRAMEWORKS:
            raise SourceError(path, located.line(("frameworks", name)), f"unknown framework {name!r}",
                              f"use one of {list(FRAMEWORKS)}")
    try:
        model = SpecModel.model_validate(located.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _data_path(located.data, err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        fix = "remove or rename it" if err["type"] == "extra_forbidden" else "see the spec format in README.md"
        raise SourceError(path, located.line(loc), f"{where}: {err['msg']}", fix) from None
    return _compile(path, located, model)


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Keep the parts of a pydantic error location that exist in the data (drop union tags)."""
    out: list[Any] = []
    for part in loc:
        if isinstance(data, dict) and part in data or isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        elif isinstance(data, (dict, list)) and isinstance(part, str) and "[" not in part and part[:1].islower():
            out.append(part)  # a missing or extra key: still worth naming
            break
        else:
            continue
        out.append(part)
    return tuple(out)


def _compile_formula(path: Path, located: Located, where: tuple[Any, ...], source: str, variables: set[str],
                     condition: bool) -> formula_mod.Formula:
    try:
        return formula_mod.parse(source, variables, condition=condition)
    except formula_mod.FormulaError as exc:
        base = located.line(where) or 1
        # a block scalar (`|`) starts on the line after its key
        offset = base + exc.line if "\n" in source.strip() or source.endswith("\n") else base
        label = ".".join(str(p) for p in where)
        raise SourceError(path, offset, f"{label} {exc.message}", exc.fix) from None


def _check_value_refs(path: Path, located: Located, model: SpecModel, name: str, arr: ArraySpec,
                      arrays: dict[str, ArraySpec]) -> None:
    """The names a value kind refers to (a bounding dim, a lower-bound input, an excluded parameter) exist."""
    refs = (("bound", arr.bound, model.dims, "dims"), ("above", arr.above, arrays, "inputs"),
            ("exclude", arr.exclude, model.params, "params"), ("classes", arr.classes, model.dims, "dims"))
    for key, ref, known, where in refs:
        if ref is not None and ref not in known:
            raise SourceError(path, located.line(("inputs", name, key)), f"{key} of {name!r} names {ref!r}, which is not in `{where}`",
                              f"use one of {sorted(known)}")
    if arr.values == "lengths" and arr.bound is None:
        raise SourceError(path, located.line(("inputs", name, "values")), f"{name!r} has values: lengths but no `bound`",
                          "name the dim that bounds the lengths, e.g. `bound: T`")


def _compile(path: Path, located: Located, model: SpecModel) -> Spec:
    variables = set(model.inputs) | set(model.params) | {"variant", "unbatched"}
    for variant in model.variants.values():
        variables |= set(variant.inputs)
    arrays = {**model.inputs, **{k: v for k, v in model.params.items() if isinstance(v, ArraySpec)}}
    for variant in model.variants.values():
        arrays.update(variant.inputs)
    for name, arr in arrays.items():
        for ref in (arr.dtypes, arr.shape):
            if isinstance(ref, str) and ref.split(" ", 1)[1] not in arrays:
                raise SourceError(path, located.line(("inputs", name)), f"input {name!r} refers to {ref!r}, which is no input",
                                  f"use one of {sorted(arrays)}")
        if isinstance(arr.shape, list):
            for dim in arr.shape:
                if isinstance(dim, str) and dim.rstrip(".") not in model.dims:
                    raise SourceError(path, located.line(("inputs", name, "shape")),
                                      f"shape of {name!r} uses dim {dim!r}, which `dims` does not define",
                                      f"add it under `dims:` or use one of {sorted(model.dims)}")
        _check_value_refs(path, located, model, name, arr, arrays)
    _check_smallest_case(path, located, model, arrays)
    if model.unbatched is not None:
        _check_unbatched(path, located, model, arrays)
    spec_formula = _compile_formula(path, located, ("formula",), model.formula, variables, False)
    raises = [(r, _compile_formula(path, located, ("raises", i, "when"), r.when, variables, True))
              for i, r in enumerate(model.raises)]
    _check_contradictions(path, located, ("raises",), raises)
    output = {k: _compile_formula(path, located, ("output", k), v, variables | {"result"}, True)
              for k, v in model.output.items()}
    ties: dict[str, list[formula_mod.Formula]] = {}
    for name, arr in arrays.items():
        ties[name] = [_compile_formula(path, located, ("inputs", name, "ties", i), t, variables, True)
                      for i, t in enumerate(arr.ties)]
    fills = {i: _compile_formula(path, located, ("invalid", i, "fill"), p.fill, variables, True)
             for i, p in enumerate(model.invalid) if p.fill}
    spec = Spec(path, located, model, spec_formula, raises, output, ties, fills)
    spec.subgradients = _subgradients(path, located, ("gradients",), model.gradients.subgradients, model, variables)
    if model.unbatched is not None and model.unbatched.when:
        spec.unbatched_when = _compile_formula(path, located, ("unbatched", "when"), model.unbatched.when, variables, True)
    for i, plot in enumerate(model.plots):
        known = variables | {plot.x.name} | PLOT_HELPERS
        spec.plot_inputs.append({name: _compile_formula(path, located, ("plots", i, "inputs", name), expr, known, True)
                                 for name, expr in plot.inputs.items()})
    targets: set[str] = set()
    for fw_name, fw in model.frameworks.items():
        for i, b in enumerate(fw.bindings):
            where = ("frameworks", fw_name, "bindings", i)
            if b.target in targets:
                raise SourceError(path, located.line(where + ("target",)), f"target {b.target!r} appears twice",
                                  "give each binding its own target")
            if not _TARGET.match(b.target):
                raise SourceError(path, located.line(where + ("target",)), f"target {b.target!r} is not a dotted Python name",
                                  f"write the qualified name, e.g. {fw_name}.nn.Something")
            if not b.target.startswith(fw_name + "."):
                raise SourceError(path, located.line(where + ("target",)),
                                  f"target {b.target!r} is not inside framework {fw_name!r}",
                                  f"write the qualified name, e.g. {fw_name}.nn.Something")
            targets.add(b.target)
            try:
                parse_signature(b.signature)
                if b.call:
                    parse_signature(b.call)
            except (SyntaxError, ValueError) as exc:
                raise SourceError(path, located.line(where + ("signature",)), f"signature {b.signature!r} does not parse: {exc}",
                                  "write it as documented, e.g. \"(input, target, reduction='mean')\"") from None
            spec.bindings.append(_view(spec, fw_name, fw, b, where, variables))
    _probes(spec)
    return spec


def _probes(spec: Spec) -> None:
    """The spec's probes (spec/probes.py); an `exclude_probes` name that is no probe is an error."""
    spec.probes, unknown = probes.derive(spec)
    for i, name in unknown:
        raise SourceError(spec.path, spec.line("exclude_probes", i), f"exclude_probes names {name!r}, which is no probe",
                          f"name a group ({', '.join(probes.GROUPS)}) or a derived probe's key, e.g. "
                          f"{sorted({p.key for p in spec.probes if p.group != 'spec'})[:3]}")


def _check_contradictions(path: Path, located: Located, at: tuple[Any, ...],
                          rules: list[tuple[Raise, formula_mod.Formula]]) -> None:
    """Two rules of one list with the same condition (as parsed) and different outcomes."""
    seen: dict[str, tuple[int, Raise]] = {}
    for i, (rule, condition) in enumerate(rules):
        key = ast.dump(condition.tree)
        if key in seen and seen[key][1].error != rule.error:
            j, other = seen[key]
            raise SourceError(path, located.line(at + (i,)),
                              f"raise rule {i} ({rule.error} when {rule.when!r}) contradicts rule {j} ({other.error} "
                              "under the same condition)", "keep the rule the documentation states, or tell the conditions apart")
        seen.setdefault(key, (i, rule))


def batch_axis(shape: Any, dim: str, arrays: dict[str, ArraySpec]) -> int | None:
    """Where `dim` sits in a declared shape (`like X` followed); None when it is not there, or after a dim of
    variable rank (its axis would vary)."""
    followed: set[str] = set()
    while isinstance(shape, str) and shape not in followed:
        followed.add(shape)
        ref = arrays.get(shape.split(" ", 1)[1])
        shape = ref.shape if ref is not None else None
    if not isinstance(shape, list):
        return None
    for k, d in enumerate(shape):
        if d == dim:
            return k
        if isinstance(d, str) and d.endswith("..."):
            return None
    return None


def _check_unbatched(path: Path, located: Located, model: SpecModel, arrays: dict[str, ArraySpec]) -> None:
    u = model.unbatched
    assert u is not None
    dim = model.dims.get(u.dim)
    if dim is None or dim.rank is not None:
        raise SourceError(path, located.line(("unbatched", "dim")), f"unbatched.dim {u.dim!r} is no fixed-rank dim of `dims`",
                          f"name the batch dim, one of {sorted(k for k, d in model.dims.items() if d.rank is None)}")
    if all(batch_axis(a.shape, u.dim, arrays) is None for a in model.inputs.values()):
        raise SourceError(path, located.line(("unbatched", "dim")), f"no input's shape has {u.dim!r} at a fixed axis",
                          "name the dim the inputs' shapes start their batch with")


def _check_smallest_case(path: Path, located: Located, model: SpecModel, arrays: dict[str, ArraySpec]) -> None:
    """Even the smallest case the dims allow must fit the generation limit."""
    total = 0
    for name, arr in arrays.items():
        if isinstance(arr.shape, list):
            n = 1
            for d in arr.shape:
                dim = model.dims.get(d.rstrip(".")) if isinstance(d, str) else None
                n *= d if isinstance(d, int) else (dim.min ** (dim.rank[0] if dim.rank else 1) if dim else 1)
            total += n
            if total > MAX_CASE_ELEMENTS:
                raise SourceError(path, located.line(("inputs", name)),
                                  f"the smallest case the dims allow has over {MAX_CASE_ELEMENTS} elements",
                                  "lower the dims' `min`")


def _view(spec: Spec, fw_name: str, fw: Framework, b: Binding, where: tuple[Any, ...], variables: set[str]) -> BindingView:
    path, located = spec.path, spec.source
    fw_where = ("frameworks", fw_name)

    def compiled_raises(owner: Overrides, at: tuple[Any, ...]) -> list[tuple[Raise, formula_mod.Formula]]:
        rules = [(r, _compile_formula(path, located, at + ("raises", i, "when"), r.when, variables, True))
                 for i, r in enumerate(owner.raises)]
        _check_contradictions(path, located, at + ("raises",), rules)
        return rules

    def compiled_diffs(owner: Overrides, at: tuple[Any, ...]) -> list[tuple[Difference, formula_mod.Formula | None]]:
        return [(d, _compile_formula(path, located, at + ("known_differences", i, "when"), d.when, variables, True)
                 if d.when else None) for i, d in enumerate(owner.known_differences)]

    def compiled_options(owner: Overrides, at: tuple[Any, ...]) -> list[OptionView]:
        out = []
        for name, entries in owner.options.items():
            if name in variables:  # its source documents it, even where the API page's signature omits it
                raise SourceError(path, located.line(at + ("options", name)),
                                  f"options names {name!r}, a spec input or parameter: options are framework-only parameters",
                                  "give the common parameter's values under `params:`, or name a framework-only parameter")
            for i, o in enumerate(entries):
                here = at + ("options", name, i)
                out.append(OptionView(
                    name, o,
                    _compile_formula(path, located, here + ("formula",), o.formula, variables, False) if o.formula else None,
                    _compile_formula(path, located, here + ("when",), o.when, variables, True) if o.when else None))
        return out

    own_formula = b.formula or fw.formula
    formula_at = where if b.formula else fw_where
    for owner, at in ((fw, fw_where), (b, where)):
        for key in owner.names:
            if key not in variables:
                raise SourceError(path, located.line(at + ("names", key)), f"names maps {key!r}, which is neither an input nor a parameter",
                                  f"use one of {sorted(variables - {'variant'})}")
        for i, claim in enumerate(owner.claims):
            if claim.param and claim.param not in variables and claim.param not in _signature_names(spec.model):
                raise SourceError(path, located.line(at + ("claims", i, "param")),
                                  f"claim about {claim.param!r}, which is no input, parameter or documented signature name",
                                  f"use one of {sorted((variables - {'variant'}) | _signature_names(spec.model))}")
        for key in owner.defaults:
            if key not in spec.model.params:
                raise SourceError(path, located.line(at + ("defaults", key)), f"defaults sets {key!r}, which is not a parameter",
                                  f"use one of {sorted(spec.model.params)}")
    return BindingView(
        spec=spec,
        framework=fw_name,
        model=b,
        names={**fw.names, **b.names},
        defaults={**{k: getattr(v, "default", None) for k, v in spec.model.params.items()}, **fw.defaults, **b.defaults},
        dtypes={**fw.dtypes, **b.dtypes},
        variants=b.variants if b.variants is not None else fw.variants,
        raises=compiled_raises(b, where) + compiled_raises(fw, fw_where),
        formula=_compile_formula(path, located, formula_at + ("formula",), own_formula, variables, False) if own_formula else None,
        extra={k: _compile_formula(path, located, at + ("extra", k), v, variables, True)
               for owner, at in ((fw, fw_where), (b, where)) for k, v in owner.extra.items()},
        options=compiled_options(b, where) + compiled_options(fw, fw_where),
        differences=compiled_diffs(b, where) + compiled_diffs(fw, fw_where),
        docs=b.docs or fw.docs,
        grad=_grad_list(spec, b, where) if b.grad is not None else (_grad_list(spec, fw, fw_where) if fw.grad is not None else None),
        subgradients=_subgradients(path, located, where, b.subgradients, spec.model, variables)
        + _subgradients(path, located, fw_where, fw.subgradients, spec.model, variables),
    )


def _grad_list(spec: Spec, owner: Overrides, at: tuple[Any, ...]) -> list[str]:
    for name in owner.grad or []:
        if name not in spec.model.inputs:
            raise SourceError(spec.path, spec.line(*at, "grad"), f"grad names {name!r}, which is not an input",
                              f"use some of {sorted(spec.model.inputs)}")
    return list(owner.grad or [])


def _subgradients(path: Path, located: Located, at: tuple[Any, ...], entries: list[Subgradient], model: SpecModel,
                  variables: set[str]) -> list[tuple[Subgradient, formula_mod.Formula | None]]:
    out = []
    for i, sg in enumerate(entries):
        where = at + ("subgradients", i)
        for name in sg.inputs:
            if name not in model.inputs:
                raise SourceError(path, located.line(where + ("inputs",)), f"subgradient names {name!r}, which is not an input",
                                  f"use some of {sorted(model.inputs)}")
        cond = _compile_formula(path, located, where + ("at",), sg.at, variables, True) if sg.at else None
        out.append((sg, cond))
    return out
def _signature_names(model: SpecModel) -> set[str]:
    return {name for fw in model.frameworks.values() for b in fw.bindings for name, _, _ in parse_signature(b.signature)}


@dataclass
class LoadResult:
    specs: list[Spec]
    errors: list[SourceError]


def spec_files(root: str | Path) -> list[Path]:
    root = Path(root)
    return sorted(root.rglob("*.yaml")) if root.is_dir() else [root]


def claim_api(spec: Spec, owners: dict[str, Path]) -> None:
    """Record `spec`'s file as the one defining its api; raises SourceError if another file already does.

    Why: the api names report files, reproducers and finding ids, so a second spec of the same api
    would mix its results with the first's. `owners` (api -> file) is the caller's, one per run.
    """
    first = owners.setdefault(spec.api, spec.path)
    if first != spec.path:
        raise SourceError(spec.path, spec.line("api"), f"api {spec.api!r} is already defined in {first}",
                          "give each spec its own api name")


def load_all(root: str | Path) -> LoadResult:
    """Every spec under `root`; a bad one becomes an error and the rest still load."""
    specs: list[Spec] = []
    errors: list[SourceError] = []
    owners: dict[str, Path] = {}
    for path in spec_files(root):
        try:
            spec = load_spec(path)
            claim_api(spec, owners)
        except SourceError as exc:
            errors.append(exc)
            continue
        specs.append(spec)
    return LoadResult(specs, errors)
