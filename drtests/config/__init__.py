"""DrillConfig: one TOML file describes a drill; every key has a StackState 4.6 default.

Each key is declared once, with its type, default, allowed values and bounds next to it
(`setting(...)`); loading checks every declaration, then the rules that tie keys together
(`_cross_checks`), and raises ConfigError naming the file, the key and the problem before any
command reaches the target. Numbers must be finite.
"""

from __future__ import annotations

import hashlib
import tomllib
import typing
from dataclasses import fields, replace
from pathlib import Path

from drtests.config.checks import cross_checks, section_of
from drtests.config.sections import (
    DEFAULT_TYPES,
    AlertsSection,
    DrillConfig,
    DrillSection,
    ElasticsearchSection,
    ExistingSection,
    IsolatedSection,
    ObjectivesSection,
    ProbeSection,
    RestoreClusterSection,
    RetentionSection,
    ServiceSection,
    StackStateSection,
    TargetSection,
    setting,
)
from drtests.errors import ConfigError

__all__ = [
    "DEFAULT_TYPES", "AlertsSection", "DrillConfig", "DrillSection", "ElasticsearchSection", "ExistingSection",
    "IsolatedSection", "ObjectivesSection", "ProbeSection", "RestoreClusterSection", "RetentionSection",
    "ServiceSection", "StackStateSection", "TargetSection", "load", "load_fleet", "parse_overrides", "setting",
    "with_overrides",
]  # fmt: skip

SECTIONS = {f.name: f.type for f in fields(DrillConfig) if f.name not in ("source", "sha256")}


def _read(path: str | Path) -> tuple[dict, str]:
    """The TOML document of a config file and the file's sha256. Raises ConfigError."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(source, "", "file not found") from None
    except IsADirectoryError:
        raise ConfigError(source, "", "is a folder (a fleet of configs: drtests run --config DIR)") from None
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read: {exc.strerror}") from None
    try:
        return tomllib.loads(data.decode()), hashlib.sha256(data).hexdigest()
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "", f"not valid TOML: {exc}") from None


def _build(raw: dict, source: str, sha256: str, overrides: dict[str, object] | None) -> DrillConfig:
    """A validated DrillConfig from a TOML document with the CLI overrides applied last."""
    hints = typing.get_type_hints(DrillConfig)
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        hint = typing.get_type_hints(hints[section]).get(key, str) if section in hints else str
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(source, section, f"must be a table ([{section}]), got {type(table).__name__}")
        table[key] = _typed(value, hint)
    sections = {}
    for name, raw_section in raw.items():
        if name not in SECTIONS:
            raise ConfigError(source, name, f"unknown section (known: {', '.join(SECTIONS)})")
        sections[name] = section_of(source, name, hints[name], raw_section)
    for name, cls in hints.items():  # sections absent from the file: their defaults must hold too
        if name in SECTIONS and name not in sections:
            sections[name] = section_of(source, name, cls, {})
    cfg = DrillConfig(**sections, source=source, sha256=sha256)
    cross_checks(cfg)
    return cfg


def load(path: str | Path, overrides: dict[str, object] | None = None) -> DrillConfig:
    """Read, merge CLI overrides ("section.key": value), validate. Raises ConfigError."""
    raw, sha256 = _read(path)
    if "fleet" in raw:
        raise ConfigError(str(path), "fleet", "this config drills several targets: load it with load_fleet")
    return _build(raw, str(path), sha256, overrides)


def load_fleet(path: str | Path, overrides: dict[str, object] | None = None) -> list[DrillConfig]:
    """Every install one run drills: a folder of configs (one drill per *.toml, named by its file
    unless target.name is set), a config with [[fleet]] entries (each entry's sections override the
    shared ones), or a plain config (a fleet of one). CLI overrides apply to every member."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.toml"))
        if not files:
            raise ConfigError(str(path), "", "folder holds no *.toml drill configs")
        configs = []
        for file in files:
            cfg = load(file, overrides)
            configs.append(cfg if cfg.target.name else with_overrides(cfg, target={"name": file.stem}))
    else:
        raw, sha256 = _read(path)
        members = raw.pop("fleet", None)
        if members is None:
            return [_build(raw, str(path), sha256, overrides)]
        if not isinstance(members, list) or not members or not all(isinstance(m, dict) for m in members):
            raise ConfigError(str(path), "fleet", "must be one or more [[fleet]] tables, one per target")
        configs = [_fleet_member(raw, member, f"{path} [[fleet]] #{number}", sha256, overrides)
                   for number, member in enumerate(members, 1)]  # fmt: skip
    seen: dict[str, str] = {}
    for cfg in configs:
        if cfg.target_name in seen:
            raise ConfigError(cfg.source, "target.name", f"{cfg.target_name!r} names two targets of the fleet "
                              f"(also {seen[cfg.target_name]}): each needs its own name")  # fmt: skip
        seen[cfg.target_name] = cfg.source
    return configs


def _fleet_member(shared: dict, member: dict, source: str, sha256: str, overrides: dict | None) -> DrillConfig:
    merged = {name: dict(table) if isinstance(table, dict) else table for name, table in shared.items()}
    for name, table in member.items():
        if not isinstance(table, dict):
            raise ConfigError(source, name, f"must be a table of keys (e.g. {name}.key = ...), got {table!r}")
        base = merged.setdefault(name, {})
        if isinstance(base, dict):
            base.update(table)
    if not isinstance(member.get("target"), dict) or not member["target"].get("name"):
        raise ConfigError(source, "target.name", "is required in every [[fleet]] entry: it names the target")
    return _build(merged, source, sha256, overrides)


def parse_overrides(assignments: list[str], source: str = "--set") -> dict[str, str]:
    """["section.key=value", ...] -> {"section.key": "value"}; typed later, by the key's type."""
    overrides: dict[str, str] = {}
    for assignment in assignments:
        dotted, sep, text = assignment.partition("=")
        if not sep or "." not in dotted:
            raise ConfigError(source, assignment, "must look like section.key=value")
        overrides[dotted.strip()] = text
    return overrides


def _typed(text: object, hint: object) -> object:
    """A --set value as the key's type: strings stay as typed; others are read as TOML values."""
    if not isinstance(text, str) or hint is str:
        return text
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # the type check names the key and the expected type


def with_overrides(cfg: DrillConfig, **section_values: dict[str, object]) -> DrillConfig:
    """A copy with some keys replaced, e.g. with_overrides(cfg, target={"disposable": True})."""
    changes = {name: replace(getattr(cfg, name), **values) for name, values in section_values.items()}
    return replace(cfg, **changes)
