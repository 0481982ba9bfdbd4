"""Elasticsearch errors in words: the one place an elasticsearch-py exception becomes the line a
user reads (a drill's phase message, a preflight refusal)."""

from __future__ import annotations

from elasticsearch import exceptions as es_errors


def reason(exc: es_errors.TransportError) -> str:
    """Elasticsearch's own reason for a refused request ("no such index [x]")."""
    info = exc.info if isinstance(exc.info, dict) else {}
    err = info.get("error", {})
    if isinstance(err, dict):
        return err.get("reason") or err.get("type") or str(exc.error)
    return str(err or exc.error)


def cause(exc: es_errors.ConnectionError) -> str:
    """What the connection failed on (refused, reset, timed out), shortened."""
    return str(exc.args[1] if len(exc.args) > 1 else exc)[:300]


def describe(exc: BaseException, url: str) -> str | None:
    """One line for an Elasticsearch error met in the middle of a drill; None for anything else."""
    if isinstance(exc, es_errors.ConnectionError):
        return f"Elasticsearch at {url} became unreachable: {cause(exc)}"
    if isinstance(exc, es_errors.TransportError):
        return f"Elasticsearch at {url} answered HTTP {exc.status_code}: {exc.error}"
    return None
