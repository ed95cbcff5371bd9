"""Scenario files: YAML read safely, `extends:` chains resolved, then validated into a
`Scenario` (whose schema belongs to the world)."""

from __future__ import annotations

from pathlib import Path

import yaml

from forumsim.world.scenario import (
    EMBEDDED,
    Scenario,
    ScenarioError,
    embedded_scenario,
    parse_scenario,
)


def _merged(base: dict, override: dict) -> dict:
    """`base` with `override` laid over it; nested mappings merge, lists are replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    """A scenario file's mapping with its `extends:` chain resolved."""
    if not path.is_file():
        raise ScenarioError(
            f"{path}: no such scenario file (embedded ones: {', '.join(EMBEDDED)}).")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", error)
        raise ScenarioError(f"{path}: not valid YAML{where}: {problem}.") from None
    if not isinstance(data, dict) or "extends" not in data:
        return data
    parent = data.pop("extends")
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: field 'extends' must be a file name or one of "
                            f"{', '.join(EMBEDDED)}, got {parent!r}.")
    if parent in EMBEDDED:
        base = embedded_scenario(parent).model_dump(mode="json")
    else:
        parent_path = (path.parent / parent).resolve()
        if not parent_path.is_file():
            raise ScenarioError(f"{path}: field 'extends' names {parent}: no such scenario "
                                f"file ({parent_path}); give a file next to this one or one "
                                f"of {', '.join(EMBEDDED)}.")
        if parent_path in chain:
            raise ScenarioError(f"{path}: 'extends' makes a cycle through {parent_path}.")
        base = _read_yaml(parent_path, (*chain, parent_path))
        if not isinstance(base, dict):
            raise ScenarioError(f"{parent_path}: expected a mapping of fields.")
    return _merged(base, data)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a YAML scenario file (or the name of an embedded scenario).
    A file may start from another with `extends: other.yaml` (or an embedded name)."""
    if str(path) in EMBEDDED:
        return embedded_scenario(str(path))
    path = Path(path)
    return parse_scenario(_read_yaml(path.resolve(), (path.resolve(),)), source=str(path))
