"""YAML read safely, keeping the line of every key so errors can point into the file.

Safely also means bounded: a file is at most MAX_BYTES, nests at most MAX_DEPTH levels and expands
(through YAML aliases) to at most MAX_NODES nodes, and a key appears once per mapping; anything else
is a SourceError with its line, never a hang, a crash or a silently dropped value.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[Any, ...]
MAX_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_NODES = 100_000
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when built with it: the same nodes, marks, errors
_OPEN = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken, yaml.FlowMappingStartToken,
         yaml.FlowSequenceStartToken)
_CLOSE = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


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
    text = _read(Path(file)) if text is None else text
    if len(text) > MAX_BYTES:
        raise SourceError(file, None, f"is {len(text)} characters long; a spec is at most {MAX_BYTES}",
                          "split it into one file per API")
    loader = _LOADER(text)
    try:
        _check_depth(file, text)
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(file, node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SourceError(file, mark.line + 1 if mark else None, f"is not valid YAML: {exc.problem or exc}",
                          "check indentation and quoting near that line") from None
    except RecursionError:
        raise SourceError(file, None, "nests too deeply to parse", "flatten the structure") from None
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    if node is not None:
        _walk(file, node, (), lines)
    return Located(file, data, lines)


def _read(path: Path) -> str:
    data = path.read_bytes()[:MAX_BYTES + 1]
    if len(data) > MAX_BYTES:
        raise SourceError(path, None, f"is larger than {MAX_BYTES} bytes", "split it into one file per API")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(path, data[:exc.start].count(b"\n") + 1, f"is not UTF-8 text (byte {exc.start})",
                          "save the file as UTF-8") from None


def _check_depth(file: str | Path, text: str) -> None:
    """Nesting, counted on tokens (the scanner does not recurse; the composer would overflow)."""
    depth = 0
    try:
        for token in yaml.scan(text, Loader=_LOADER):
            depth += isinstance(token, _OPEN) - isinstance(token, _CLOSE)
            if depth > MAX_DEPTH:
                raise SourceError(file, token.start_mark.line + 1, f"nests deeper than {MAX_DEPTH} levels",
                                  "flatten the structure")
    except yaml.MarkedYAMLError as exc:
        if "nesting depth" in str(exc.problem):  # libyaml's own limit, reached before ours
            mark = exc.problem_mark or exc.context_mark
            raise SourceError(file, mark.line + 1 if mark else None, f"nests deeper than {MAX_DEPTH} levels",
                              "flatten the structure") from None
        return  # a syntax error: the parser reports it with its own, better placed, message
    except yaml.YAMLError:
        return


def _check_expansion(file: str | Path, root: yaml.Node) -> None:
    """Aliases reuse nodes: count the nodes the document expands to without expanding it."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) not in sizes:
            sizes[id(node)] = 1  # a recursive alias counts once
            children = [n for kv in node.value for n in kv] if isinstance(node, yaml.MappingNode) else (
                node.value if isinstance(node, yaml.SequenceNode) else [])
            sizes[id(node)] = 1 + sum(size(c) for c in children)
        return sizes[id(node)]

    if size(root) <= MAX_NODES:
        return
    entries = root.value if isinstance(root, yaml.MappingNode) else []
    line = next((k.start_mark.line + 1 for k, v in entries if size(v) > MAX_NODES), root.start_mark.line + 1)
    raise SourceError(file, line, f"expands to {size(root)} values through YAML aliases; the limit is {MAX_NODES}",
                      "write the values out instead of nesting aliases")


def _walk(file: str | Path, node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if key.value in seen:
                where = ".".join(str(p) for p in path + (key.value,))
                raise SourceError(file, key.start_mark.line + 1, f"key {where!r} appears twice in one mapping",
                                  "keep one of them (YAML would silently drop the first)")
            seen.add(key.value)
            sub = path + (key.value,)
            lines[sub] = key.start_mark.line + 1
            _walk(file, value, sub, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(file, item, path + (i,), lines)
