"""Writing files: atomically, and inside the directory meant for them.

File names made from outside data (framework names, xdist ids, api and target names) stay inside reports/.

Specs already restrict api names and targets (spec.py); this is the second line: whatever the name,
the file lands directly in the directory it was meant for.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(name: str, limit: int = 120) -> str:
    """`name` as one plain file name: no separators, no leading dots, never empty."""
    cleaned = _UNSAFE.sub("_", name).lstrip(".")[:limit]
    return cleaned or "_"


def inside(root: Path, *names: str) -> Path:
    """root/name/... with every part a safe name; raises if the result would still leave root."""
    path = Path(root).joinpath(*(safe_name(n) for n in names))
    if not path.resolve().is_relative_to(Path(root).resolve()):
        raise ValueError(f"{path} is outside {root}")
    return path


def write_atomic(path: Path, text: str) -> None:
    """Readers (a gate, a browser, a killed run's report) never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)  # mkstemp creates 0600; reports are for reading
    os.replace(tmp, path)
