"""Profiles: a service with ``profiles:`` is enabled only when one of them is active
(``--profile``, else COMPOSE_PROFILES; ``*`` enables all)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def active_profiles(profiles: Sequence[str], env: Mapping[str, str]) -> set[str]:
    active = set(profiles)
    if not active and env.get("COMPOSE_PROFILES"):
        active = {p.strip() for p in env["COMPOSE_PROFILES"].split(",") if p.strip()}
    return active


def apply_profiles(doc: dict, active: set[str]) -> tuple[dict, list[str]]:
    """The document with only the enabled services, and the names of the disabled ones."""
    enabled, disabled = {}, []
    for name, svc in (doc.get("services") or {}).items():
        profiles = svc.get("profiles") or []
        if isinstance(profiles, str):
            profiles = [profiles]
        if not profiles or "*" in active or set(profiles) & active:
            enabled[name] = svc
        else:
            disabled.append(name)
    return {**doc, "services": enabled}, disabled
