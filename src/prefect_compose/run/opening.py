"""The direct `up`'s flow run, created on a thread while `up` connects to the engine.

Finding the server, the tag-limit check, the flow and the flow run are four or five loopback
requests (0.06-0.11 s, more while the server still stores the last run's records) that were
on the path before the engine was reached. This module is light on purpose (the REST client
and the plan's tags, no docker, no deployment): the thread starts before `up` imports the
engine, and does its waiting while that import runs.

When to run without Prefect's engine (``wanted``, ``tag_limited``) is decided here too: it is
what the thread asks before it creates anything.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from prefect_compose.plan.compile import Plan
from prefect_compose.run.milestones import limited_tags
from prefect_compose.run.rest import PrefectRest, RestError, paged
from prefect_compose.trace import mark

FLOW_NAME = "compose-up"


def wanted(verbose: bool, api: str | None = None) -> bool:
    """Whether this `up` may run without Prefect's engine (the settings say nothing
    against it). Prefect Cloud's API is not this server's (its events come in through a
    websocket): a Cloud workspace gets the flow."""
    if verbose or os.environ.get("PREFECT_COMPOSE_ENGINE", "").strip().lower() == "prefect":
        return False
    if api and (urlsplit(api).hostname or "").endswith("prefect.cloud"):
        return False
    return os.environ.get("PREFECT_COMPOSE_SERVER", "").strip().lower() != "ephemeral"


def tag_limited(rest: PrefectRest, plan: Plan) -> bool:
    """Whether a Prefect tag concurrency limit (a global `tag:NAME` one or an older per-tag
    one) names one of the plan's task tags; True when the server cannot tell."""
    return bool(limited_tags(plan, _tag_limits(rest)))


def _tag_limits(rest: PrefectRest) -> set[str] | None:
    """The tags Prefect's tag concurrency limits name; None when the server cannot tell."""
    try:
        found = {g["name"][4:] for g in paged(rest, "/v2/concurrency_limits/filter")
                 if str(g.get("name", "")).startswith("tag:")}
        return found | {c["tag"] for c in paged(rest, "/concurrency_limits/filter")}
    except (RestError, KeyError, TypeError) as exc:
        mark(f"direct: tag limits unknown ({exc})")
        return None


def create_flow_run(rest: PrefectRest, name: str, parameters: dict[str, Any],
                    tags: list[str]) -> tuple[str, str]:
    """The `compose-up` flow's id and a new flow run of it, Running (raises RestError when
    the server does not take it)."""
    flow_id = rest.flow_id(FLOW_NAME)
    run = rest.call("POST", "/flow_runs/", {
        "flow_id": flow_id, "name": name, "parameters": parameters, "tags": tags,
        "state": {"type": "RUNNING", "name": "Running"}})
    return flow_id, run["id"]


class Opening:
    """Started at once on its own thread; ``join()`` before using what it found.

    ``find`` names the server in use without starting one. When it finds none, nothing is
    created (``api`` is None: the caller finds or starts one, as before); when the direct `up`
    is not wanted, a tag limit names a plan tag or the server does not take the flow run,
    ``flow`` says the `compose-up` flow must run; else ``flow_run_id`` is the run created."""

    def __init__(self, find: Callable[[], str | None], verbose: bool, plan: Plan, name: str,
                 parameters: dict[str, Any], tags: list[str]) -> None:
        self.name, self.tags = name, list(tags)
        self.api: str | None = None
        self.rest: PrefectRest | None = None
        self.flow_id: str = ""
        self.flow_run_id: str | None = None
        self.flow = False
        self._taken = False  # the flow run handed over: whoever took it ends it
        self._args = (find, verbose, plan, parameters)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._open, daemon=True,
                                        name="prefect-compose-open")
        self._thread.start()

    def _open(self) -> None:
        find, verbose, plan, parameters = self._args
        try:
            self.api = find()
            if not self.api:
                return
            if not wanted(verbose, self.api):
                self.flow = True
                return
            self.rest = PrefectRest(self.api)
            if tag_limited(self.rest, plan):  # Prefect's task engine acquires the slots
                self.flow = True
                return
            try:
                self.flow_id, self.flow_run_id = create_flow_run(self.rest, self.name,
                                                                 parameters, self.tags)
            except RestError as exc:
                mark(f"direct: flow run not created ({exc})")
                self.flow = True  # the server did not take it: the flow runs, as before
                return
            mark("direct: flow run created")
        except BaseException as exc:  # noqa: BLE001 - raised again on the caller's thread
            self._error = exc

    def join(self) -> Opening:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self

    def take(self) -> str | None:
        """The flow run created, handed over: whoever takes it ends it; ``abandon`` no
        longer does."""
        self._thread.join()
        run, self._taken = self.flow_run_id, True
        return run

    def abandon(self, exc: BaseException) -> None:
        """The engine could not be reached, or `up` was interrupted, before the deployment
        took the flow run: a flow run already created ends Failed (Cancelled when
        interrupted), saying why. Nothing else was recorded in it."""
        self._thread.join()
        if self._taken or self.flow_run_id is None or self.rest is None:
            return
        self._taken = True
        interrupted = isinstance(exc, KeyboardInterrupt)
        kind = "CANCELLED" if interrupted else "FAILED"
        message = (f"deployment {self.name} interrupted" if interrupted
                   else f"deployment {self.name} failed: {type(exc).__name__}: {exc}")
        with contextlib.suppress(RestError):
            self.rest.call("POST", f"/flow_runs/{self.flow_run_id}/set_state", {
                "state": {"type": kind, "name": kind.capitalize(), "message": message},
                "force": True})
        self.rest.close()
