"""Scenario and sweep files: YAML read through one guarded loader, `extends:` chains
resolved, then validated into a `Scenario` (whose schema belongs to the world).

The loader refuses, with one line naming the file and the place, whatever would otherwise
end in a traceback or exhaust the machine: folders and special files, files over 1 MiB,
text that is not UTF-8, nesting deeper than a config needs, aliases that expand to more
than `MAX_NODES` values (counted before anything is expanded), integers too long to
convert, duplicate keys, and tags other than YAML's plain types.
"""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from forumsim.world.scenario import (
    EMBEDDED,
    Scenario,
    ScenarioError,
    embedded_scenario,
    parse_scenario,
    quoted,
)

MAX_BYTES = 1 << 20  # scenario and sweep files are a few kilobytes
MAX_DEPTH = 32  # a scenario nests 4 levels; a sweep's variants a few more
MAX_NODES = 100_000  # values after expanding aliases; a large sweep file has a few thousand
MAX_DIGITS = 30  # of an integer; no field takes more than 19
BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
        (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))
PLAIN_TAGS = {f"tag:yaml.org,2002:{name}" for name in
              ("str", "int", "float", "bool", "null", "seq", "map", "merge")}


class Refused(yaml.MarkedYAMLError):
    """A YAML document the guarded loader will not build (too deep, too big, duplicate
    keys, an unsupported tag); its `problem` says why and its mark where."""


class GuardedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with limits checked while the document is composed, before
    anything is constructed: nesting depth, expanded size, integer length, duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id(node) -> values it holds once aliases expand
        self._aliases = False  # whether the document repeats anything by an alias

    def compose_node(self, parent: object, index: object) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._aliases = True
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:
                raise Refused(problem=f"the alias *{event.anchor} refers to a node that "
                              "contains it", problem_mark=event.start_mark)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise Refused(problem=f"nested more than {MAX_DEPTH} levels deep",
                          problem_mark=event.start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        size = 1 + sum(self._sizes[id(child)] for child in children)
        if size > MAX_NODES:
            how = ("expands to more than {:,} values (aliases repeat what their anchor holds)"
                   if self._aliases else "holds more than {:,} values, where a scenario or "
                   "sweep file holds a few hundred")
            raise Refused(problem=how.format(MAX_NODES), problem_mark=event.start_mark)
        self._sizes[id(node)] = size
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> object:
        if node.tag not in PLAIN_TAGS and node.tag != "tag:yaml.org,2002:timestamp":
            raise Refused(problem=f"the tag {node.tag!r} is not supported (only plain "
                          "values, lists and mappings)", problem_mark=node.start_mark)
        return super().construct_object(node, deep)

    def construct_yaml_int(self, node: ScalarNode) -> int:
        if len(node.value) > MAX_DIGITS:
            raise Refused(problem=f"an integer of {len(node.value):,} digits is too large",
                          problem_mark=node.start_mark)
        return super().construct_yaml_int(node)

    def construct_yaml_timestamp(self, node: ScalarNode) -> str:
        return node.value  # a date is a label here, kept as written

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict:
        first: dict[object, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, ScalarNode):
                continue
            key = self.construct_object(key_node)
            if key in first:
                shown = quoted(key_node.value, bare=True)
                raise Refused(problem=f"duplicate key '{shown}' (first at line "
                              f"{first[key].start_mark.line + 1})",
                              problem_mark=key_node.start_mark)
            first[key] = key_node
        return super().construct_mapping(node, deep)


GuardedLoader.add_constructor("tag:yaml.org,2002:int", GuardedLoader.construct_yaml_int)
GuardedLoader.add_constructor("tag:yaml.org,2002:timestamp",
                              GuardedLoader.construct_yaml_timestamp)


def read_bytes(path: Path, limit: int) -> bytes:
    """The first `limit` + 1 bytes of the regular file `path` (so that a caller can tell a
    file over `limit`); ValueError with a one-line reason for a folder, a pipe, socket or
    device (refused at once, never waited on or read without end) or a file that cannot
    be read; FileNotFoundError if there is none."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise ValueError(f"cannot be read: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if stat.S_ISDIR(mode):
            raise ValueError("is a folder, not a file")
        if not stat.S_ISREG(mode):
            raise ValueError("is not a regular file (a device, socket or pipe)")
        try:
            return handle.read(limit + 1)
        except OSError as error:
            raise ValueError(f"cannot be read: {error.strerror}") from None


def _text(path: Path, what: str) -> str:
    """The file's text, or a one-line reason why it is not a readable UTF-8 file."""
    if path.is_dir():
        raise ValueError(f"is a folder, not a {what} file")
    if not path.exists():
        raise FileNotFoundError(f"no such {what} file")
    if not path.is_file():
        raise ValueError(f"is not a regular file (a device, socket or pipe); give a {what} "
                         "file")
    data = read_bytes(path, MAX_BYTES)
    if len(data) > MAX_BYTES:
        raise ValueError(f"is larger than {MAX_BYTES >> 20} MiB; a {what} file is a few "
                         "kilobytes of YAML")
    for bom, encoding in BOMS:
        if data.startswith(bom):
            raise ValueError(f"is saved as {encoding}; save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(f"is not UTF-8 text (byte 0x{data[error.start]:02x} on line {line}); "
                         "save it as UTF-8") from None
    if "\0" in text:
        raise ValueError("is not a text file (it holds NUL bytes; UTF-16 without a "
                         "byte-order mark?); save it as UTF-8")
    return text


def read_yaml(path: Path, what: str = "scenario",
              error: type[ValueError] = ScenarioError) -> object:
    """The content of a scenario or sweep file, through the guarded loader; any problem
    raises `error` with one line naming the file (and the line, for YAML problems)."""
    try:
        text = _text(path, what)
    except FileNotFoundError as problem:
        hint = f" (embedded ones: {', '.join(EMBEDDED)})" if what == "scenario" else ""
        raise error(f"{path}: {problem}{hint}.") from None
    except ValueError as problem:
        raise error(f"{path}: {problem}.") from None
    loader = GuardedLoader(text)
    try:
        return loader.get_single_data()
    except Refused as problem:
        mark = problem.problem_mark
        raise error(f"{path}: line {mark.line + 1}, column {mark.column + 1}: "
                    f"{problem.problem}.") from None
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = ", ".join(part for part in (getattr(problem, "context", None),
                                             getattr(problem, "problem", None)) if part)
        reason = reason or str(problem)
        raise error(f"{path}: not valid YAML{where}: {reason}.") from None
    finally:
        loader.dispose()


def _merged(base: dict, override: dict) -> dict:
    """`base` with `override` laid over it; nested mappings merge, lists are replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _resolved(path: Path, root: Path, chain: tuple[Path, ...] = (),
              referred: bool = False) -> object:
    """A scenario file's mapping with its `extends:` chain resolved. Every file the chain
    names must lie in `root`'s folder tree; a file that is `referred` to (by `extends:`
    or a `base:`) must be a scenario, so that nothing of another kind of file is shown."""
    data = read_yaml(path)
    if referred and isinstance(data, dict) and not data.keys() & SCENARIO_KEYS:
        raise ScenarioError(f"{path}: is not a scenario file (none of its keys is a field of "
                            "a scenario).")
    if isinstance(data, dict) and isinstance(data.get("start_from"), str):
        # A table named in a scenario file is found next to that file.
        data["start_from"] = os.path.normpath(path.parent / data["start_from"])
    if not isinstance(data, dict) or "extends" not in data:
        return data
    parent = data.pop("extends")
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: field 'extends' must be a file name or one of "
                            f"{', '.join(EMBEDDED)}, got {quoted(parent)}.")
    if parent in EMBEDDED:
        base = embedded_scenario(parent).model_dump(mode="json")
    else:
        parent_path = inside(path.parent / parent, root, f"{path}: field 'extends'", parent)
        if not parent_path.exists():
            raise ScenarioError(f"{path}: field 'extends' names {quoted(parent, bare=True)}: "
                                f"no such scenario file ({parent_path}); give a file next to "
                                f"this one or one of {', '.join(EMBEDDED)}.")
        if parent_path in chain:
            raise ScenarioError(f"{path}: 'extends' makes a cycle through {parent_path}.")
        if len(chain) >= MAX_DEPTH:
            raise ScenarioError(f"{path}: 'extends' chains more than {MAX_DEPTH} files.")
        try:
            base = _resolved(parent_path, root, (*chain, parent_path), referred=True)
        except ScenarioError as error:
            raise ScenarioError(f"{path}: field 'extends': {error}") from None
        if not isinstance(base, dict):
            raise ScenarioError(f"{parent_path}: expected a mapping of fields.")
    return _merged(base, data)


SCENARIO_KEYS = {*Scenario.model_fields, "extends"}


def inside(path: Path, root: Path, where: str, given: str,
           allowed: str = f"a file there, in a folder below it, or one of "
                          f"{', '.join(EMBEDDED)}") -> Path:
    """`path` resolved (links followed), if it lies in `root`'s folder tree; otherwise a
    ScenarioError naming `where` it was `given` and what is `allowed`. A scenario file may
    only build on files of its own folder tree, so that no file elsewhere on the machine
    is ever read as one."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise ScenarioError(f"{where} names {quoted(given, bare=True)}, which is outside "
                            f"{root.resolve()}; {allowed} is allowed.")
    return resolved


def load_scenario(path: str | Path, root: Path | None = None) -> Scenario:
    """Read and validate a YAML scenario file (or the name of an embedded scenario).
    A file may start from another with `extends: other.yaml` (or an embedded name) in its
    own folder tree; a relative `start_from` path is taken from the folder of the file
    that names it. With `root` (the folder of a sweep or calibration file naming this one
    as its `base`), the file itself must be a scenario in that folder's tree."""
    if str(path) in EMBEDDED:
        return embedded_scenario(str(path))
    path = Path(path)
    resolved = path.resolve()
    data = _resolved(resolved, root or path.parent, (resolved,), referred=root is not None)
    return parse_scenario(data, source=str(path))
