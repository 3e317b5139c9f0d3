"""The compiler: a ``Project`` -> an immutable, JSON-serialisable ``Plan``, a DAG of steps.

Deciding is separate from doing: the plan says which services are jobs, what each step waits
for (with the *effective* condition), each step's timeout, and which images get built. The
runtime carries no decision logic.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import Any, Literal

from prefect_compose.errors import InputError
from prefect_compose.model.types import Frozen, Project, Schedule, Service

DEFAULT_JOB_TIMEOUT_S = 300.0
StepKind = Literal["job", "pre_start", "start", "health", "provider"]


class Edge(Frozen):
    """An upstream step this step waits for, and how."""
    step: str
    service: str
    condition: str  # service_started | service_healthy | service_completed_successfully
    required: bool = True


class Step(Frozen):
    id: str
    service: str
    kind: StepKind
    upstream: tuple[Edge, ...] = ()
    timeout_s: float | None = None
    hook_index: int | None = None
    # a job every dependent of which has `required: false`: its failure is a warning
    optional: bool = False


class BuildSpec(Frozen):
    context: str
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    args: dict[str, str | None] = {}
    target: str | None = None
    labels: dict[str, str] = {}
    network: str | None = None
    extra_hosts: tuple[str, ...] = ()
    shm_size: int | None = None
    no_cache: bool = False
    pull: bool = False
    tags: tuple[str, ...]  # the services' image refs, then the build's own `tags`
    services: tuple[str, ...]


class ServicePlan(Frozen):
    name: str
    # scheduled: a job with x-prefect.schedule; `up` does not run it (no steps), its own
    # deployment does (`prefect-compose deploy`), and `run SERVICE` by hand
    kind: Literal["job", "service", "provider", "scheduled"]
    image: str | None
    depends_on: dict[str, str]  # effective conditions
    timeout_s: float | None
    healthy_timeout_s: float | None
    retries: int
    retry_delay_s: float
    config_hash: str
    steps: tuple[str, ...]
    schedule: Schedule | None = None


class Plan(Frozen):
    project: str
    working_dir: str
    files: tuple[str, ...]
    services: tuple[ServicePlan, ...]
    steps: tuple[Step, ...]  # in a deterministic topological order
    builds: tuple[BuildSpec, ...]
    networks: tuple[str, ...]
    volumes: tuple[str, ...]
    concurrency: int | None
    warnings: tuple[str, ...]

    @cached_property
    def _services_by_name(self) -> dict[str, ServicePlan]:
        return {s.name: s for s in self.services}

    @cached_property
    def _steps_by_id(self) -> dict[str, Step]:
        return {s.id: s for s in self.steps}

    def service(self, name: str) -> ServicePlan:
        """By name, in constant time (the runtime asks for each step many times: a linear
        search cost a 200-service deployment a tenth of a second of CPU)."""
        try:
            return self._services_by_name[name]
        except KeyError:
            raise KeyError(name) from None

    @property
    def scheduled(self) -> tuple[ServicePlan, ...]:
        return tuple(s for s in self.services if s.kind == "scheduled")

    def step(self, step_id: str) -> Step:
        try:
            return self._steps_by_id[step_id]
        except KeyError:
            raise KeyError(step_id) from None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def is_job(svc: Service, completion_targets: set[str]) -> bool:
    return svc.restart == "no" or svc.name in completion_targets


def image_of(project: Project, svc: Service) -> str | None:
    """The image a service runs: its `image:`, else the tag Compose gives a build."""
    if svc.image:
        return svc.image
    if svc.build:
        return f"{project.name}-{svc.name}"
    return None


def config_hash(svc: Service) -> str:
    """What decides "changed": the container-relevant configuration, not the orchestration."""
    data = svc.model_dump(mode="json", exclude={
        "depends_on", "profiles", "x_prefect", "source_file", "scale", "pull_policy",
        "pre_start"})
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def derived_healthy_timeout(svc: Service) -> float:
    """How long the healthcheck itself may take to give up, plus a margin: never unbounded."""
    hc = svc.healthcheck
    if hc is None or hc.test is None:
        from prefect_compose.model.types import Healthcheck
        hc = Healthcheck()  # the image's own healthcheck: assume Compose's defaults
    budget = hc.start_period_s + (hc.interval_s + hc.timeout_s) * (hc.retries + 1)
    return round(budget + 10.0, 3)


def _check_cycles(project: Project) -> None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for dep in sorted(project.services[name].depends_on):
            if dep not in project.services:
                continue
            if state.get(dep) == 1:
                cycle = path[path.index(dep):] + [dep]
                svc = project.services[name]
                raise InputError("dependency cycle detected: " + " -> ".join(cycle),
                                 file=svc.source_file, path=f"services.{name}.depends_on.{dep}")
            if state.get(dep) is None:
                visit(dep)
        path.pop()
        state[name] = 2

    for name in sorted(project.services):
        if name not in state:
            visit(name)


def compile_plan(project: Project, *, job_timeout_s: float | None = None) -> Plan:
    """Compile a validated project. Raises InputError for what only the graph can show."""
    _check_cycles(project)
    services = project.services
    completion_targets = {dep for s in services.values() for dep, d in s.depends_on.items()
                          if d.condition == "service_completed_successfully"}
    jobs = {n for n, s in services.items() if is_job(s, completion_targets)}
    default_job_timeout = _default_job_timeout(project, job_timeout_s)
    healthy_targets = {dep for s in services.values() for dep, d in s.depends_on.items()
                       if d.condition == "service_healthy"}
    steps: dict[str, Step] = {}
    plans: list[ServicePlan] = []
    for name in sorted(services):
        svc = services[name]
        kind = "provider" if svc.is_provider else ("job" if name in jobs else "service")
        if kind == "job" and svc.x_prefect.schedule is not None:
            plans.append(_scheduled_plan(project, svc, default_job_timeout))
            continue
        plans.append(_service_steps(project, svc, kind, jobs, name in healthy_targets,
                                    default_job_timeout, steps))
    used_networks = sorted({project.networks[n].name for s in services.values()
                            for n in s.networks})
    used_volumes = sorted({project.volumes[m.source].name for s in services.values()
                           for m in s.volumes if m.type == "volume" and m.source})
    _mark_optional_jobs(steps)
    return Plan(
        project=project.name, working_dir=project.working_dir, files=project.files,
        services=tuple(plans), steps=_topological(steps), builds=_builds(project),
        networks=tuple(used_networks), volumes=tuple(used_volumes),
        concurrency=project.x_prefect.concurrency, warnings=project.warnings)


def _default_job_timeout(project: Project, job_timeout_s: float | None) -> float:
    if job_timeout_s is not None and job_timeout_s <= 0:
        raise InputError("must be a positive duration", path="--job-timeout")
    top = project.x_prefect.job_timeout_s
    if top is not None and top <= 0:
        raise InputError("must be a positive duration", file=project.files[0],
                         path="x-prefect.job_timeout")
    return (job_timeout_s if job_timeout_s is not None
            else top if top is not None else DEFAULT_JOB_TIMEOUT_S)


def _effective_edges(svc: Service, services: dict, jobs: set[str]
                     ) -> tuple[dict[str, str], list[Edge]]:
    """The effective condition of each dependency (short form on a job: completed), and the
    edges to wait on (an optional dependency switched off by its profiles has none)."""
    effective: dict[str, str] = {}
    edges: list[Edge] = []
    for dep_name in sorted(svc.depends_on):
        dep = svc.depends_on[dep_name]
        cond = dep.condition
        if dep.short_form and dep_name in jobs:
            cond = "service_completed_successfully"
        effective[dep_name] = cond
        if dep_name not in services:
            continue
        target = f"{dep_name}: healthy" if cond == "service_healthy" else dep_name
        edges.append(Edge(step=target, service=dep_name, condition=cond,
                          required=dep.required))
    return effective, edges


def _service_steps(project: Project, svc: Service, kind: str, jobs: set[str], healthy: bool,
                   default_job_timeout: float, steps: dict[str, Step]) -> ServicePlan:
    """Add the service's steps (pre_start hooks, its start or job, its health wait) to
    ``steps`` and return its ServicePlan."""
    name = svc.name
    effective, edges = _effective_edges(svc, project.services, jobs)
    timeout = (svc.x_prefect.timeout_s or default_job_timeout) if kind == "job" else None
    step_ids: list[str] = []
    upstream = tuple(edges)
    for i, _hook in enumerate(svc.pre_start):
        sid = f"{name}: pre_start[{i}]"
        steps[sid] = Step(id=sid, service=name, kind="pre_start", upstream=upstream,
                          timeout_s=svc.x_prefect.timeout_s or default_job_timeout,
                          hook_index=i)
        step_ids.append(sid)
        upstream = (Edge(step=sid, service=name, condition="service_completed_successfully"),)
    main_kind = {"job": "job", "service": "start", "provider": "provider"}[kind]
    steps[name] = Step(id=name, service=name, kind=main_kind, upstream=upstream,
                       timeout_s=timeout)
    step_ids.append(name)
    healthy_timeout = None
    if healthy:
        healthy_timeout = svc.x_prefect.healthy_timeout_s or derived_healthy_timeout(svc)
        if svc.healthcheck is not None and svc.healthcheck.disable:
            raise InputError(
                f'"{name}" has its healthcheck disabled, so service_healthy can never hold',
                file=svc.source_file, path=f"services.{name}.healthcheck")
        sid = f"{name}: healthy"
        steps[sid] = Step(id=sid, service=name, kind="health",
                          upstream=(Edge(step=name, service=name, condition="service_started"),),
                          timeout_s=healthy_timeout)
        step_ids.append(sid)
    return ServicePlan(
        name=name, kind=kind, image=image_of(project, svc), depends_on=effective,
        timeout_s=timeout, healthy_timeout_s=healthy_timeout,
        retries=svc.x_prefect.retries if kind == "job" else 0,
        retry_delay_s=svc.x_prefect.retry_delay_s, config_hash=config_hash(svc),
        steps=tuple(step_ids))


def _builds(project: Project) -> tuple[BuildSpec, ...]:
    """One build per distinct build section (context, dockerfile, args, ...), with every
    tag: each service's image ref and the build's own `tags`."""
    builds: dict[str, dict[str, Any]] = {}
    for name in sorted(project.services):
        svc = project.services[name]
        if svc.build is None:
            continue
        fields = svc.build.model_dump(mode="json", exclude={"tags"})
        key = json.dumps(fields, sort_keys=True)
        b = builds.setdefault(key, {**fields, "tags": [], "services": []})
        for tag in (image_of(project, svc), *svc.build.tags):
            if tag not in b["tags"]:
                b["tags"].append(tag)
        b["services"].append(name)
    return tuple(BuildSpec(**{**b, "tags": tuple(b["tags"]), "services": tuple(b["services"])})
                 for b in builds.values())


def _mark_optional_jobs(steps: dict[str, Step]) -> None:
    """A job that only `required: false` dependents wait on may fail with a warning."""
    edges_to: dict[str, list[Edge]] = {}
    for st in steps.values():
        for e in st.upstream:
            edges_to.setdefault(e.step, []).append(e)
    for sid, st in list(steps.items()):
        into = edges_to.get(sid, [])
        if st.kind == "job" and into and not any(e.required for e in into):
            steps[sid] = st.model_copy(update={"optional": True})


def _scheduled_plan(project: Project, svc: Service, default_timeout: float) -> ServicePlan:
    """A scheduled job: no steps in `up`'s DAG, nothing may wait for it."""
    for other in sorted(project.services.values(), key=lambda s: s.name):
        if svc.name in other.depends_on:
            raise InputError(f'"{svc.name}" is a scheduled job (x-prefect.schedule), which up '
                             "does not run: nothing can wait for it", file=other.source_file,
                             path=f"services.{other.name}.depends_on.{svc.name}")
    return ServicePlan(name=svc.name, kind="scheduled", image=image_of(project, svc),
                       depends_on={d: dep.condition for d, dep in sorted(svc.depends_on.items())},
                       timeout_s=svc.x_prefect.timeout_s or default_timeout,
                       healthy_timeout_s=None, retries=svc.x_prefect.retries,
                       retry_delay_s=svc.x_prefect.retry_delay_s, config_hash=config_hash(svc),
                       steps=(), schedule=svc.x_prefect.schedule)


def _topological(steps: dict[str, Step]) -> tuple[Step, ...]:
    """Kahn's algorithm, ties broken by name, so the order is the same every time."""
    import heapq

    indegree = {sid: len(s.upstream) for sid, s in steps.items()}
    downstream: dict[str, list[str]] = {sid: [] for sid in steps}
    for sid, s in steps.items():
        for e in s.upstream:
            downstream[e.step].append(sid)
    ready = [sid for sid, n in indegree.items() if n == 0]
    heapq.heapify(ready)
    order: list[Step] = []
    while ready:
        sid = heapq.heappop(ready)
        order.append(steps[sid])
        for nxt in downstream[sid]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(ready, nxt)
    if len(order) != len(steps):  # pragma: no cover - cycles are rejected earlier
        raise InputError("dependency cycle detected")
    return tuple(order)


def refuse_providers(plan: Plan) -> None:
    providers = [s.name for s in plan.services if s.kind == "provider"]
    if providers:
        raise InputError(f"provider services are not supported by up: {', '.join(providers)} "
                         "(they are delegated to an external provider; remove them or use a "
                         "profile to leave them out)", path=f"services.{providers[0]}.provider")
