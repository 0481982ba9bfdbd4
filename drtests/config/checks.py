"""What a config value must be: each key against its declaration, and the rules that tie keys
together (cross_checks), each raising ConfigError that names the file, the key and the problem."""

from __future__ import annotations

import math
import os
import re
import string
import typing
from dataclasses import fields
from enum import StrEnum
from urllib.parse import urlparse

from drtests.config.sections import TEMPLATE_KEYS, DrillConfig
from drtests.errors import ConfigError, DrillError
from drtests.words import Mode, parse_age


def _check_value(source: str, key: str, value: object, hint: object) -> object:
    """Type-check one value against its annotation (bool, int, float, str, list[str])."""
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(hint, type) and issubclass(hint, StrEnum):  # one of its words; any other: _check_rules says so
        if not isinstance(value, str):
            raise ConfigError(source, key, f"must be str, got {type(value).__name__} {value!r}")
        return hint(value) if value in hint._value2member_map_ else value
    origin = typing.get_origin(hint)
    if origin is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(source, key, f"must be a list of strings, got {value!r}")
        return value
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(source, key, f"must be {hint.__name__}, got {type(value).__name__} {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(source, key, f"must be a finite number, got {value!r}")
    return value


def _check_rules(source: str, key: str, value: object, rules: typing.Mapping[str, object]) -> None:
    """What the key's declaration says a value must be."""
    unit = f" {rules['unit']}" if rules.get("unit") else ""
    if (choices := rules.get("choices")) and value not in choices:
        raise ConfigError(source, key, f"must be one of {', '.join(choices)}, got {value!r}")
    if (gt := rules.get("gt")) is not None and not value > gt:
        raise ConfigError(source, key, f"must be > {gt:g}{unit}")
    if (ge := rules.get("ge")) is not None and not value >= ge:
        raise ConfigError(source, key, f"must be >= {ge:g}{unit}")
    if (le := rules.get("le")) is not None and not value <= le:
        raise ConfigError(source, key, f"must be <= {le:g}{unit}")
    if rules.get("required") and not str(value).strip():
        raise ConfigError(source, key, "must not be empty")
    if rules.get("absolute") and not str(value).startswith(("/", "{home}")):
        raise ConfigError(source, key, f"must be an absolute path (or start with {{home}}), got {value!r}")
    if rules.get("regex"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ConfigError(source, key, f"invalid regular expression: {exc}") from None


def _check_template(source: str, key: str, template: str) -> None:
    """Placeholders as str.format reads them: only the known ones; literal braces doubled."""
    allowed = ", ".join("{" + k + "}" for k in sorted(TEMPLATE_KEYS))
    try:
        fields_used = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:  # a lone { or }
        raise ConfigError(
            source, key, f"{exc}: write a literal brace as {{{{ or }}}} (placeholders: {allowed})"
        ) from None
    for placeholder in fields_used:
        if placeholder not in TEMPLATE_KEYS:
            raise ConfigError(source, key, f"unknown placeholder {{{placeholder}}} (allowed: {allowed}; write a "
                              "literal brace as {{ or }})")  # fmt: skip


def section_of(source: str, name: str, cls: type, raw: object) -> object:
    """One [section] of the file: known keys only, each of its declared type and rules."""
    if not isinstance(raw, dict):
        raise ConfigError(source, name, f"must be a table ([{name}]), got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    declared = {f.name: f for f in fields(cls)}
    for key in raw:
        if key not in declared:
            raise ConfigError(source, f"{name}.{key}", f"unknown key (known: {', '.join(sorted(declared))})")
    values = {k: _check_value(source, f"{name}.{k}", v, hints[k]) for k, v in raw.items()}
    section = cls(**values)
    for f in fields(cls):
        value = getattr(section, f.name)
        _check_rules(source, f"{name}.{f.name}", value, f.metadata)
        if getattr(cls, "templates", False) and isinstance(value, str):
            _check_template(source, f"{name}.{f.name}", value)
    return section


def cross_checks(cfg: DrillConfig) -> None:
    """The rules no single key can state: what a key's value requires of the others."""
    for rule in (
        _names,
        _urls,
        _service_and_mode,
        _existing_and_probe,
        _secrets,
        _elasticsearch,
        _signing_key,
        _controls,
    ):
        rule(cfg, cfg.source)


def _names(cfg: DrillConfig, src: str) -> None:
    """The watermark's group, and the names that name folders, snapshots and containers."""
    if "ns" not in re.compile(cfg.stackstate.watermark_pattern).groupindex:
        raise ConfigError(src, "stackstate.watermark_pattern", "needs a named group (?P<ns>...) for the nanoseconds")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", cfg.drill.name):
        raise ConfigError(src, "drill.name", "letters, digits, '.', '_' and '-' only, up to 63 (it names evidence "
                          f"folders, snapshots and containers), got {cfg.drill.name!r}")  # fmt: skip
    if cfg.target.name and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", cfg.target.name):
        raise ConfigError(src, "target.name", "letters, digits, '.', '_' and '-' only, up to 63 (it names evidence "
                          f"folders and snapshots), got {cfg.target.name!r}")  # fmt: skip


def _urls(cfg: DrillConfig, src: str) -> None:
    """No password in any URL; the target a testinfra URL; every HTTP URL well formed."""
    for key, url, fix in (
        ("target.url", cfg.target.url, "use target.ssh_identity_file or an ssh agent"),
        ("elasticsearch.url", cfg.elasticsearch.url, "name environment variables in elasticsearch.username_env "
         "and password_env (or api_key_env)"),
        ("probe.api_url", cfg.probe.api_url, "the API probe takes no credentials"),
    ):  # fmt: skip
        if urlparse(url).password is not None:
            raise ConfigError(src, key, f"holds a password: secrets never go in the config (it is hashed into "
                              f"evidence and shown by plan); {fix}")  # fmt: skip
    scheme = urlparse(cfg.target.url).scheme
    if scheme not in ("local", "ssh", "paramiko", "docker", "podman", "kubectl", "ansible"):
        raise ConfigError(
            src, "target.url", f"must be a testinfra host URL like local:// or ssh://user@host, got {cfg.target.url!r}"
        )
    if scheme != "local" and not urlparse(cfg.target.url).hostname:
        raise ConfigError(src, "target.url", f"names no host: {cfg.target.url!r} (e.g. ssh://user@host)")
    if any(
        part.startswith("-")
        for part in (urlparse(cfg.target.url).hostname or "", urlparse(cfg.target.url).username or "")
    ):
        raise ConfigError(src, "target.url", f"a host or user starting with '-' would be read as an option: "
                          f"{cfg.target.url!r}")  # fmt: skip
    urls = [("elasticsearch.url", cfg.elasticsearch.url), ("probe.api_url", cfg.probe.api_url)]
    if cfg.restore_cluster.url:
        urls.append(("restore_cluster.url", cfg.restore_cluster.url))
        if urlparse(cfg.restore_cluster.url).password is not None:
            raise ConfigError(src, "restore_cluster.url", "holds a password: secrets never go in the config; name "
                              "environment variables in restore_cluster.username_env and password_env")  # fmt: skip
        if cfg.restore_cluster.url.rstrip("/") == cfg.elasticsearch.url.rstrip("/"):
            raise ConfigError(src, "restore_cluster.url", "is the production cluster (elasticsearch.url): a restore "
                              "cluster is a separate one; leave it empty to restore under renamed indices")  # fmt: skip
        if not cfg.elasticsearch.enabled:
            raise ConfigError(src, "restore_cluster.url", "needs elasticsearch.enabled = true")
    for key, url in urls:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigError(src, key, f"must be an http(s) URL with a host, got {url!r}")
        try:
            _ = parsed.port  # urllib checks the port only when asked
        except ValueError:
            raise ConfigError(src, key, f"has an invalid port: {url!r}") from None


def _service_and_mode(cfg: DrillConfig, src: str) -> None:
    """The service commands, and what each drill mode needs."""
    if cfg.service.backend == "command":
        for key in ("start_command", "stop_command", "status_command"):
            if not getattr(cfg.service, key):
                raise ConfigError(src, f"service.{key}", 'is required when service.backend = "command"')
    if cfg.drill.mode in (Mode.ISOLATED, Mode.EXISTING) and not cfg.isolated.image:
        raise ConfigError(src, "isolated.image", f'is required when drill.mode = "{cfg.drill.mode}" (the restore '
                          "runs in a disposable host started from it)")  # fmt: skip
    if cfg.drill.mode == Mode.EXISTING and cfg.elasticsearch.restore != "rename":
        raise ConfigError(src, "elasticsearch.restore", 'must be "rename" when drill.mode = "existing": verifying a '
                          "backup never deletes or overwrites production indices")  # fmt: skip


def _existing_and_probe(cfg: DrillConfig, src: str) -> None:
    """Where an existing-backup drill looks, and what the probe needs."""
    if cfg.existing.backup_file and not cfg.existing.backup_file.startswith("/"):
        raise ConfigError(src, "existing.backup_file", f"must be an absolute path, got {cfg.existing.backup_file!r}")
    if "/" in cfg.existing.backup_pattern:
        raise ConfigError(src, "existing.backup_pattern", "is a file name pattern inside stackstate.backup_dir "
                          f"(no '/'), got {cfg.existing.backup_pattern!r}")  # fmt: skip
    if cfg.probe.kind == "command" and not cfg.probe.command:
        raise ConfigError(src, "probe.command", 'is required when probe.kind = "command"')
    if not cfg.probe.types and cfg.probe.kind != "command":
        raise ConfigError(src, "probe.types", "must name at least one node type")
    _share(src, "probe.content_share", cfg.probe.content_share, True,
           '7": every node compared field by field once in 7 drills; "1/1": every node, every drill')  # fmt: skip


def _share(src: str, key: str, spec: str, may_be_off: bool, example: str) -> None:
    """A rotating share "n/t" with 1 <= n <= t (or "off" where that is allowed)."""
    share = re.fullmatch(r"([1-9]\d*)/([1-9]\d*)", spec)
    if (may_be_off and spec == "off") or (share and int(share[1]) <= int(share[2])):
        return
    off = '"off" or ' if may_be_off else ""
    raise ConfigError(src, key, f'must be {off}"n/t" with 1 <= n <= t (e.g. "1/{example}), got {spec!r}')


def _secrets(cfg: DrillConfig, src: str) -> None:
    """Every environment variable the config names is set; a password comes with a user."""
    for section in ("elasticsearch", "restore_cluster"):
        for key in ("username_env", "password_env", "api_key_env"):
            name = getattr(getattr(cfg, section), key)
            if name and name not in os.environ:
                raise ConfigError(src, f"{section}.{key}", f"names environment variable {name}, which is not set")
    if cfg.restore_cluster.password_env and not cfg.restore_cluster.username_env:
        raise ConfigError(src, "restore_cluster.username_env", "is required with restore_cluster.password_env")
    if cfg.alerts.webhook_url_env and cfg.alerts.webhook_url_env not in os.environ:
        raise ConfigError(src, "alerts.webhook_url_env", f"names environment variable {cfg.alerts.webhook_url_env}, "
                          "which is not set")  # fmt: skip


def _elasticsearch(cfg: DrillConfig, src: str) -> None:
    """The rename keeps a fixed prefix and the original name; full_verify is a share."""
    replacement = cfg.elasticsearch.rename_replacement
    groups = [int(n) for n in re.findall(r"\$(\d+)", replacement)]
    available = re.compile(cfg.elasticsearch.rename_pattern).groups
    if any(n > available for n in groups):
        raise ConfigError(src, "elasticsearch.rename_replacement", f"refers to group ${max(groups)}, but "
                          f"elasticsearch.rename_pattern has {available} group(s)")  # fmt: skip
    if 1 not in groups:
        raise ConfigError(src, "elasticsearch.rename_replacement", "must keep the original name: include $1 "
                          f"(e.g. drtests-restored-$1), got {replacement!r}")  # fmt: skip
    if not re.match(r"[a-z0-9][a-z0-9._-]*-", replacement.split("$", 1)[0]):
        raise ConfigError(src, "elasticsearch.rename_replacement", "must start with a fixed prefix ending in '-' "
                          f"before $1 (e.g. drtests-restored-$1), so restored copies never take a live index's "
                          f"name, got {replacement!r}")  # fmt: skip
    _share(src, "elasticsearch.full_verify", cfg.elasticsearch.full_verify, True,
           '7": a seventh of the indices each drill, every index once in 7 drills')  # fmt: skip
    _share(src, "elasticsearch.restore_share", cfg.elasticsearch.restore_share, False,
           '4": a quarter of the indices and each group\'s newest each drill, every index within 4 drills; '
           '"1/1": all')  # fmt: skip
    if cfg.alerts.notify_env and cfg.alerts.notify_env not in os.environ:
        raise ConfigError(src, "alerts.notify_env", f"names environment variable {cfg.alerts.notify_env}, "
                          "which is not set")  # fmt: skip
    if cfg.elasticsearch.password_env and not cfg.elasticsearch.username_env:
        raise ConfigError(src, "elasticsearch.username_env", "is required with elasticsearch.password_env")


def _signing_key(cfg: DrillConfig, src: str) -> None:
    """A named signing key must be one, readable by its owner alone: found now, not after the drill
    touched the target and could only write unsigned evidence."""
    from drtests.sign import keys

    if (path := cfg.signing_key_path) is None:
        return
    key = "evidence.signing_key_file" if cfg.evidence.signing_key_file else "$DRTESTS_SIGNING_KEY_FILE"
    try:
        keys.load_private(path)
    except DrillError as exc:
        raise ConfigError(src, key, str(exc)) from None


def _controls(cfg: DrillConfig, src: str) -> None:
    for control in cfg.evidence.controls:
        if not re.fullmatch(r"[A-Za-z0-9][\w.-]*:\S+", control):
            raise ConfigError(src, "evidence.controls", f"{control!r}: write FRAMEWORK:CONTROL, e.g. SOC2:A1.3")
    for entry in cfg.evidence.every:
        control, equals, age = entry.partition("=")
        if not equals or control.strip() not in cfg.evidence.controls:
            raise ConfigError(src, "evidence.every", f"{entry!r}: write CONTROL=AGE (e.g. \"DORA:Art.12=7d\") for a "
                              "control named in evidence.controls")  # fmt: skip
        try:
            parse_age(age)
        except ValueError as exc:
            raise ConfigError(src, "evidence.every", f"{entry!r}: {exc}") from None
