"""`pull_policy`, as Compose v2 reads it (compose-go ``GetPullPolicy``, compose ``mustPull``):
which images a deployment pulls, and which must already be on the engine. Pure: the runtime
asks the engine whether an image is there (and when it was last tagged) and does what this
says, before the first container starts.

- ``always``: pulled every time; a failed pull is an error unless the image is built.
- ``never`` (and ``build`` on a service without a build): never pulled; a missing image is
  an error naming the service and the policy.
- ``missing`` / ``if_not_present`` (the default; also ``refresh``): pulled when absent.
- ``daily``, ``weekly``, ``every_<duration>``: pulled when absent or last tagged longer ago.
- ``build``: the image is built every time (plan.builds already builds every build).

pre_start hook images follow their service's policy, ``build`` reading as ``missing`` (a
hook image cannot be built), as in Compose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prefect_compose.model.types import Project
from prefect_compose.plan.compile import Plan

_UNIT = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}


@dataclass(frozen=True)
class ImageNeed:
    ref: str
    service: str
    policy: str  # always | never | build | missing | refresh (as written: `policy_text`)
    policy_text: str
    refresh_s: float | None = None  # refresh: pull when last tagged longer ago than this
    buildable: bool = False  # the plan builds this tag: a failed pull is no error
    hook: bool = False


def pull_rule(policy: str | None) -> tuple[str, float | None]:
    """(always | never | build | missing | refresh, the refresh interval in seconds)."""
    if policy in ("always", "never", "build", "missing"):
        return policy, None
    if policy == "daily":
        return "refresh", 86400.0
    if policy == "weekly":
        return "refresh", 7 * 86400.0
    if policy and policy.startswith("every_"):
        parts = re.findall(r"([0-9]+)([wdhms])", policy[6:])
        return "refresh", float(sum(int(n) * _UNIT[u] for n, u in parts))
    return "missing", None  # if_not_present, refresh, unset


def image_needs(project: Project, plan: Plan, services: list[str]) -> list[ImageNeed]:
    """Every image these services (and their pre_start hooks) run, with its policy; one
    entry per image, the first service that runs it naming it."""
    built = {tag for b in plan.builds for tag in b.tags}
    out: dict[str, ImageNeed] = {}
    for name in sorted(services):
        svc = project.services[name]
        sp = plan.service(name)
        policy, refresh = pull_rule(svc.pull_policy)
        text = svc.pull_policy or "missing"
        if sp.image:
            out.setdefault(sp.image, ImageNeed(sp.image, name, policy, text, refresh,
                                               buildable=sp.image in built))
        hook_policy = "missing" if policy == "build" else policy
        for h in svc.pre_start:
            if h.image:
                out.setdefault(h.image, ImageNeed(h.image, name, hook_policy, text, refresh,
                                                  buildable=h.image in built, hook=True))
    return list(out.values())


def must_pull(need: ImageNeed, present: bool, tagged_ago_s: float | None) -> bool:
    """Whether to pull ``need`` now (``tagged_ago_s``: how long ago the local image was last
    tagged, None when unknown)."""
    if need.buildable:
        return False  # built by this deployment (Compose: a failed pull falls back to it)
    if need.policy == "always":
        return True
    if need.policy in ("never", "build"):
        return False
    if need.policy == "refresh":
        return not present or tagged_ago_s is None or tagged_ago_s > (need.refresh_s or 0)
    return not present


def missing_message(need: ImageNeed) -> str:
    """Why a missing image that is never pulled is an error."""
    what = "pre_start image" if need.hook else "image"
    return (f"{what} {need.ref} of service {need.service} is not on the engine and "
            f"pull_policy is {need.policy_text}: it is never pulled (pull or build it first, "
            "or use pull_policy: missing)")
