"""Coverage-guided fuzzing of the formula sandbox with atheris (optional: `pip install atheris`).

Run: python tests/fuzz_formula_atheris.py -runs=100000
Each input's bytes pick tokens (vocabulary, hostile names, attributes, operators, bomb fragments),
so most inputs are near-valid formulas rather than syntax errors; tests/formula_oracle.py raises on
any escape or broken bound, which atheris reports as a crash.
"""
from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from harness.spec import vocabulary  # noqa: F401  (instrumented for coverage)

from tests.formula_oracle import check  # noqa: E402

TOKENS = sorted(vocabulary.FUNCTIONS) + [
    "x", "y", "beta", "reduction", "n", "s", "a", "b", "result", "pi", "inf", "nan",
    "__import__", "open", "eval", "getattr", "__class__", "__globals__", "__subclasses__", "__builtins__",
    ".", "(", ")", "[", "]", "{", "}", ",", ":", "=", "+", "-", "*", "/", "//", "%", "**", "@", "<", ">", "==",
    "!=", " in ", " not ", " is ", " if ", " else ", " and ", " or ", "lambda", " for ", ":=", "f'", "'", '"',
    "{0.__class__}", "%s", "\n", "result = ", "a = ", "0", "1", "2", "16", "10 ** 16", "10 ** 9", "1e308",
    "ones(", "zeros(", "one_hot(", "broadcast_to(", "expand_dims(", ", axis=-1", ", like=x", ", out=x", "None",
    "'mean'", "(100000, 100000)", "4096", "* a", "a * a", "a ** 16",
]


def decode(data: bytes) -> str:
    return "".join(TOKENS[b % len(TOKENS)] for b in data[:200])


def one_input(data: bytes) -> None:
    source = decode(data)
    if "result" not in source:
        source = "result = " + source
    check(source)
    check(source.replace("result = ", "").strip() or "x", condition=True)


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
