"""The frameworks the harness knows: one entry each, the one list every other part reads.

Specs (`frameworks:` keys), workers (`adapter_for`, `discover`), the report (order, colours) and
noxfile.py (pins, `PACKAGE==VERSION` arguments, `--frameworks`) all take their framework facts from
here; what a framework does lives in its adapter module. Standard library only: noxfile.py loads
this file by its path before numpy or the harness is installed.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Framework:
    name: str  # as specs, `--workers`, `--frameworks`, reports and baselines spell it
    display: str  # as its own documentation spells it
    adapter: str  # the module holding its `Adapter` class (harness/run/frameworks/base.py)
    package: str  # the importable package: what its worker imports and `discover` looks for
    pip: str  # the distribution pip installs (`nox -s conformance -- PIP==VERSION` changes its pin)
    pins: tuple[str, ...]  # default requirements of its virtualenv: the framework's own pin first
    color: str  # its lines in the report's plots
    dashes: tuple[int | None, int | None]  # their dash pattern (on, off); (None, None) is solid
    text_color: str  # its name in the report's text (a darker shade of `color`, readable on white)
    asynchronous: tuple[str, str] | None = None
    """(page, sentence) where the framework documents that, by default, its operators run asynchronously, so an error
    may surface after the call that caused it; the workers synchronize it, and the stale-error check measures it."""


#: in display order: the report lists frameworks in this order
FRAMEWORKS: tuple[Framework, ...] = (
    Framework(name="torch", display="PyTorch", adapter="harness.run.frameworks.torch_adapter",
              package="torch", pip="torch", pins=("torch==2.13.0", "numpy<3"),
              color="#d1495b", dashes=(None, None), text_color="#b3263a"),
    Framework(name="mindspore", display="MindSpore", adapter="harness.run.frameworks.mindspore_adapter",
              package="mindspore", pip="mindspore",
              pins=("mindspore==2.10.0", "numpy<2"),  # MindSpore 2.x is built against numpy 1.x
              color="#2e86ab", dashes=(6, 3), text_color="#1f6f95",
              asynchronous=("https://www.mindspore.cn/docs/en/master/api_python/runtime/mindspore.runtime.launch_blocking.html",
                            "In the initial state when this interface is not called, the operator executes asynchronously "
                            "on the device. In this case, when an error occurs in the execution of the operator, it will not "
                            "be possible to locate the position of the particular error script code.")),
    Framework(name="paddle", display="PaddlePaddle", adapter="harness.run.frameworks.paddle_adapter",
              package="paddle", pip="paddlepaddle", pins=("paddlepaddle==3.3.1", "numpy<3"),
              color="#3a9d23", dashes=(2, 2), text_color="#2d7d1b"),
)

#: the framework the "differences from PyTorch" documentation pages (a spec's `claims:`) compare with
REFERENCE = "torch"

_BY_NAME = {f.name: f for f in FRAMEWORKS}
_RANK = {f.name: i for i, f in enumerate(FRAMEWORKS)}


def names() -> tuple[str, ...]:
    """Every framework's name, in display order."""
    return tuple(_BY_NAME)


def get(name: str) -> Framework:
    """The entry of `name`; ValueError naming the known ones for any other name."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown framework {name!r}; known: {sorted(_BY_NAME)}") from None


def rank(name: str) -> int:
    """`name`'s place in display order, for sort keys; names not in the registry sort after all of them."""
    return _RANK.get(name, len(FRAMEWORKS))
