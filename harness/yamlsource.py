"""YAML read safely, keeping the line of every key so errors can point into the file."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[Any, ...]


class SourceError(Exception):
    """A problem in a source file, with the place and the fix spelled out for the user."""

    def __init__(self, file: str | Path, line: int | None, message: str, fix: str = "") -> None:
        self.file, self.line, self.message, self.fix = str(file), line, message, fix
        where = f"{self.file}:{line}" if line else self.file
        super().__init__(f"{where}: {message}" + (f" (fix: {fix})" if fix else ""))


class Located:
    """A parsed YAML document and the line of every path inside it."""

    def __init__(self, file: str | Path, data: Any, lines: dict[Path_, int]) -> None:
        self.file, self.data, self.lines = str(file), data, lines

    def line(self, path: Path_) -> int | None:
        """Line of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def load(file: str | Path, text: str | None = None) -> Located:
    text = Path(file).read_text(encoding="utf-8") if text is None else text
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SourceError(file, mark.line + 1 if mark else None, f"is not valid YAML: {exc.problem or exc}",
                          "check indentation and quoting near that line") from None
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return Located(file, data, lines)


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = path + (key.value,)
            lines[sub] = key.start_mark.line + 1
            _walk(value, sub, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), lines)
