"""The compiler: Project -> Plan. Which services are jobs, the effective conditions, steps,
timeouts, builds, config hashes, and the three renderings."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from prefect_compose.errors import InputError
from prefect_compose.load import load_project
from prefect_compose.plan.compile import (
    DEFAULT_JOB_TIMEOUT_S,
    Edge,
    compile_plan,
    config_hash,
    derived_healthy_timeout,
    refuse_providers,
)
from prefect_compose.plan.render import plan_json, plan_mermaid, plan_table_markdown, plan_text


@pytest.fixture
def root(tmp_path, monkeypatch):
    for var in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def project_of(root, text: str, name: str = "demo", file: str = "compose.yaml"):
    (root / file).write_text(textwrap.dedent(text))
    return load_project([file], project_name=name, environ={})


def compile_(root, text: str, job_timeout_s: float | None = None, **kw):
    return compile_plan(project_of(root, text, **kw), job_timeout_s=job_timeout_s)


def compile_error(root, text: str, **kw) -> InputError:
    with pytest.raises(InputError) as err:
        compile_(root, text, **kw)
    return err.value


def kinds(plan) -> dict[str, str]:
    return {s.name: s.kind for s in plan.services}


# -- jobs ----------------------------------------------------------------------------------------
def test_which_services_are_jobs(root):
    plan = compile_(root, """\
        services:
          quoted_no: {image: x, restart: "no"}
          yaml_no: {image: x, restart: no}
          yaml_false: {image: x, restart: false}
          init:
            image: x
            restart: always
          no_key: {image: x}
          on_failure: {image: x, restart: on-failure}
          unless: {image: x, restart: unless-stopped}
          app:
            image: x
            depends_on:
              init: {condition: service_completed_successfully}
        """)
    assert kinds(plan) == {
        "quoted_no": "job", "yaml_no": "job", "yaml_false": "job",
        "init": "job",  # waited on as completed: a job whatever its restart
        "no_key": "service", "on_failure": "service", "unless": "service", "app": "service"}
    assert plan.step("init").kind == "job"
    assert plan.step("no_key").kind == "start"


def test_effective_conditions(root):
    plan = compile_(root, """\
        services:
          migrate: {image: x, restart: "no"}
          seed: {image: x, restart: "no"}
          db: {image: x, healthcheck: {test: ["CMD", "true"]}}
          cache: {image: x}
          web:
            image: x
            depends_on: [migrate, cache]
          api:
            image: x
            depends_on:
              seed: {condition: service_started}
              db: {condition: service_healthy}
              migrate: {condition: service_completed_successfully, required: false}
        """)
    assert plan.service("web").depends_on == {"cache": "service_started",
                                              "migrate": "service_completed_successfully"}
    assert plan.service("api").depends_on == {"db": "service_healthy",
                                              "migrate": "service_completed_successfully",
                                              "seed": "service_started"}
    assert plan.step("api").upstream == (
        Edge(step="db: healthy", service="db", condition="service_healthy"),
        Edge(step="migrate", service="migrate", condition="service_completed_successfully",
             required=False),
        Edge(step="seed", service="seed", condition="service_started"))


def test_optional_dependency_is_rendered_as_optional(root):
    plan = compile_(root, """\
        services:
          db: {image: x}
          web:
            image: x
            depends_on:
              db: {condition: service_started, required: false}
        """)
    assert "after db (started, optional)" in plan_text(plan)
    assert "db -.-> web" in plan_mermaid(plan)


# -- pre_start hooks -----------------------------------------------------------------------------
def test_pre_start_hooks_become_ordered_steps_before_the_service(root):
    plan = compile_(root, """\
        services:
          db: {image: x}
          web:
            image: x
            depends_on: [db]
            pre_start:
              - command: echo one
              - command: ["echo", "two"]
                image: alpine
        """)
    web = plan.service("web")
    assert web.steps == ("web: pre_start[0]", "web: pre_start[1]", "web")
    h0, h1, main = (plan.step(s) for s in web.steps)
    assert (h0.kind, h0.hook_index) == ("pre_start", 0)
    assert (h1.kind, h1.hook_index) == ("pre_start", 1)
    assert h0.upstream == (Edge(step="db", service="db", condition="service_started"),)
    assert h1.upstream == (Edge(step="web: pre_start[0]", service="web",
                                condition="service_completed_successfully"),)
    assert main.upstream == (Edge(step="web: pre_start[1]", service="web",
                                  condition="service_completed_successfully"),)
    assert h0.timeout_s == h1.timeout_s == DEFAULT_JOB_TIMEOUT_S
    assert main.timeout_s is None
    order = [s.id for s in plan.steps]
    assert order.index("db") < order.index("web: pre_start[0]") < order.index(
        "web: pre_start[1]") < order.index("web")


# -- health steps ------------------------------------------------------------------------------
HEALTH = """\
services:
  db:
    image: x
    healthcheck:
      test: pg_isready
      interval: 5s
      timeout: 2s
      retries: 4
      start_period: 10s
  cache:
    image: x
    healthcheck:
      test: ["CMD", "true"]
  noimagecheck:
    image: x
  web:
    image: x
    depends_on:
      db: {condition: service_healthy}
      noimagecheck: {condition: service_healthy}
      cache: {condition: service_started}
"""


def test_health_steps_only_for_services_waited_on_as_healthy(root):
    plan = compile_(root, HEALTH)
    health = [s.id for s in plan.steps if s.kind == "health"]
    assert health == ["db: healthy", "noimagecheck: healthy"]
    assert plan.service("cache").steps == ("cache",)
    assert plan.service("cache").healthy_timeout_s is None
    assert plan.step("db: healthy").upstream == (
        Edge(step="db", service="db", condition="service_started"),)


def test_health_timeout_derived_and_never_none(root):
    plan = compile_(root, HEALTH)
    db = plan.step("db: healthy")
    # start_period + (interval + timeout) * (retries + 1) + a margin
    assert db.timeout_s == derived_healthy_timeout(project_of(root, HEALTH).services["db"])
    assert db.timeout_s >= 10 + (5 + 2) * 4
    assert plan.service("db").healthy_timeout_s == db.timeout_s
    for step in plan.steps:
        if step.kind == "health":
            assert step.timeout_s is not None and step.timeout_s > 0


def test_healthy_timeout_from_x_prefect(root):
    plan = compile_(root, HEALTH.replace("      start_period: 10s\n",
                                         "      start_period: 10s\n    x-prefect:\n"
                                         "      healthy_timeout: 45s\n"))
    assert plan.step("db: healthy").timeout_s == 45.0


def test_service_healthy_on_a_disabled_healthcheck_is_an_error(root):
    for hc in ("{disable: true}", '{test: ["NONE"]}'):
        err = compile_error(root, f"""\
            services:
              db: {{image: x, healthcheck: {hc}}}
              web:
                image: x
                depends_on:
                  db: {{condition: service_healthy}}
            """)
        assert str(err).startswith("compose.yaml: services.db.healthcheck: ")
        assert "disabled" in str(err)


# -- timeouts ------------------------------------------------------------------------------------
JOBS = """\
{top}services:
  plain: {{image: x, restart: "no"}}
  own:
    image: x
    restart: "no"
    x-prefect:
      timeout: 90s
  app: {{image: x}}
"""


@pytest.mark.parametrize("top, flag, plain, own", [
    ("", None, 300.0, 90.0),                                   # the default
    ("x-prefect:\n  job_timeout: 10m\n", None, 600.0, 90.0),   # top-level job_timeout
    ("", 120.0, 120.0, 90.0),                                  # --job-timeout
    ("x-prefect:\n  job_timeout: 10m\n", 120.0, 120.0, 90.0),  # the flag beats the file
])
def test_job_timeout_precedence(root, top, flag, plain, own):
    plan = compile_(root, JOBS.format(top=top), job_timeout_s=flag)
    assert plan.service("plain").timeout_s == plain
    assert plan.step("plain").timeout_s == plain
    assert plan.service("own").timeout_s == own  # service x-prefect.timeout beats them all
    assert plan.service("app").timeout_s is None  # long-running services have no timeout


def test_default_job_timeout_is_five_minutes():
    assert DEFAULT_JOB_TIMEOUT_S == 300.0


def test_non_positive_job_timeout_is_an_error(root):
    with pytest.raises(InputError, match="positive"):
        compile_(root, JOBS.format(top=""), job_timeout_s=0.0)


def test_retries_for_jobs(root):
    plan = compile_(root, """\
        services:
          job:
            image: x
            restart: "no"
            x-prefect: {retries: 2, retry_delay: 1m}
          app:
            image: x
            x-prefect: {retries: 2}
        """)
    assert (plan.service("job").retries, plan.service("job").retry_delay_s) == (2, 60.0)
    assert plan.service("app").retries == 0


# -- builds ----------------------------------------------------------------------------------
def test_builds_are_deduplicated_with_all_tags(root):
    plan = compile_(root, """\
        services:
          migrate:
            build: .
            restart: "no"
          web:
            build: .
            depends_on: [migrate]
          named:
            build: ./other
            image: registry.example/named:1
          pulled:
            image: redis
        """)
    assert len(plan.builds) == 2
    same = [b for b in plan.builds if b.context == str(root)][0]
    assert same.tags == ("demo-migrate", "demo-web")
    assert same.services == ("migrate", "web")
    other = [b for b in plan.builds if b.context == str(root / "other")][0]
    assert other.tags == ("registry.example/named:1",)
    assert plan.service("web").image == "demo-web"
    assert plan.service("migrate").image == "demo-migrate"
    assert plan.service("pulled").image == "redis"


def test_builds_differing_in_args_are_separate(root):
    plan = compile_(root, """\
        services:
          a: {build: {context: ., args: {V: "1"}}}
          b: {build: {context: ., args: {V: "2"}}}
        """)
    assert sorted(b.tags for b in plan.builds) == [("demo-a",), ("demo-b",)]


# -- cycles ----------------------------------------------------------------------------------
def test_cycle_shows_the_path(root):
    err = compile_error(root, """\
        services:
          a: {image: x, depends_on: [b]}
          b: {image: x, depends_on: [a]}
        """)
    assert "dependency cycle detected: a -> b -> a" in str(err)
    assert re.match(r"compose\.yaml: services\.[ab]\.depends_on\.[ab]: ", str(err))


def test_self_cycle(root):
    err = compile_error(root, "services:\n  a: {image: x, depends_on: [a]}\n")
    assert str(err) == ("compose.yaml: services.a.depends_on.a: dependency cycle detected: "
                        "a -> a")


def test_longer_cycle_reached_from_outside(root):
    err = compile_error(root, """\
        services:
          entry: {image: x, depends_on: [b]}
          b: {image: x, depends_on: [c]}
          c: {image: x, depends_on: [d]}
          d: {image: x, depends_on: [b]}
        """)
    assert "b -> c -> d -> b" in str(err)
    assert "entry" not in str(err)


def test_unknown_dependency(root):
    err = compile_error(root, "services:\n  web: {image: x, depends_on: [db]}\n")
    assert str(err) == 'compose.yaml: services.web.depends_on.db: unknown service "db"'


# -- providers -----------------------------------------------------------------------------------
def test_provider_service_is_listed_and_refused_by_up(root):
    plan = compile_(root, """\
        services:
          ai:
            provider: {type: model, options: {model: ai/smollm2}}
          web: {image: x, depends_on: [ai]}
        """)
    assert plan.service("ai").kind == "provider"
    assert plan.step("ai").kind == "provider"
    with pytest.raises(InputError) as err:
        refuse_providers(plan)
    assert "services.ai.provider" in str(err.value) and "not supported by up" in str(err.value)


def test_refuse_providers_passes_without_providers(root):
    refuse_providers(compile_(root, "services:\n  web: {image: x}\n"))


# -- networks and volumes ------------------------------------------------------------------------
def test_engine_names_of_networks_and_volumes(root):
    plan = compile_(root, """\
        services:
          web:
            image: x
            volumes: [data:/data, ./here:/here]
          db:
            image: x
            networks: [back]
        networks:
          back: {}
          unused: {}
        volumes:
          data: {}
        """)
    assert plan.networks == ("demo_back", "demo_default")
    assert plan.volumes == ("demo_data",)


# -- config hash -----------------------------------------------------------------------------
BASE_SVC = """\
services:
  db: {image: x}
  web:
    image: nginx:1
    command: ["nginx", "-g", "daemon off;"]
    environment: {A: "1", B: "2"}
    depends_on: [db]
"""


def web_hash(root, text: str) -> str:
    return compile_(root, text).service("web").config_hash


def test_config_hash_is_stable(root):
    first = web_hash(root, BASE_SVC)
    assert first == web_hash(root, BASE_SVC)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    # key order in the file does not matter
    reordered = BASE_SVC.replace('environment: {A: "1", B: "2"}', 'environment: {B: "2", A: "1"}')
    assert web_hash(root, reordered) == first


@pytest.mark.parametrize("old, new", [
    ("image: nginx:1", "image: nginx:2"),
    ('A: "1"', 'A: "changed"'),
    ('"daemon off;"', '"daemon on;"'),
])
def test_config_hash_changes_with_the_container_config(root, old, new):
    assert web_hash(root, BASE_SVC) != web_hash(root, BASE_SVC.replace(old, new))


@pytest.mark.parametrize("old, new", [
    ("depends_on: [db]", "depends_on: {db: {condition: service_started, required: false}}"),
    ("depends_on: [db]", "x-prefect: {timeout: 1m, retries: 3}"),
    ("depends_on: [db]", "depends_on: [db]\n    x-prefect: {healthy_timeout: 2m}"),
])
def test_config_hash_ignores_orchestration(root, old, new):
    assert web_hash(root, BASE_SVC) == web_hash(root, BASE_SVC.replace(old, new))


def test_config_hash_function_directly(root):
    svc = project_of(root, BASE_SVC).services["web"]
    assert config_hash(svc) == config_hash(svc.model_copy())
    assert config_hash(svc) != config_hash(svc.model_copy(update={"user": "nobody"}))


# -- renderings --------------------------------------------------------------------------------
APP = """\
services:
  web:
    build: .
    depends_on:
      migrate: {condition: service_completed_successfully}
      cache: {condition: service_started}
  migrate:
    build: .
    restart: "no"
    depends_on:
      db: {condition: service_healthy}
  db:
    image: postgres
    healthcheck:
      test: pg_isready
      interval: 5s
  cache:
    image: redis
"""


def test_plan_text_golden(root):
    text = plan_text(compile_(root, APP))
    assert text == textwrap.dedent(f"""\
        project demo (compose.yaml)
        build   demo-migrate, demo-web from {root} (Dockerfile) for migrate, web
        step    cache        start     timeout -      after -
        step    db           start     timeout -      after -
        step    db: healthy  health    timeout 2m30s  after db (started)
        step    migrate      job       timeout 5m     after db: healthy (healthy)
        step    web          start     timeout -      after cache (started), migrate (completed)""")


def test_plan_text_is_deterministic(root):
    first = plan_text(compile_(root, APP))
    # the same services written in another order
    blocks = re.split(r"(?m)^(?=  \w)", APP.split("services:\n", 1)[1])
    shuffled = "services:\n" + "".join(reversed(blocks))
    second = plan_text(compile_(root, shuffled))
    assert first == second == plan_text(compile_(root, APP))


def test_steps_are_topologically_ordered(root):
    plan = compile_(root, APP)
    seen: set[str] = set()
    for step in plan.steps:
        assert all(e.step in seen for e in step.upstream), step.id
        seen.add(step.id)
    assert len(seen) == len(plan.steps)


def test_plan_json_matches_spec(root):
    data = json.loads(plan_json(compile_(root, APP)))
    assert data["project"] == "demo"
    services = {s["name"]: s for s in data["services"]}
    assert [s["name"] for s in data["services"]] == sorted(services)
    for s in data["services"]:
        assert {"name", "kind", "depends_on", "timeout_s"} <= set(s)
        assert s["kind"] in ("job", "service", "provider")
        assert isinstance(s["depends_on"], dict)
        assert s["timeout_s"] is None or isinstance(s["timeout_s"], (int, float))
    assert services["migrate"]["kind"] == "job"
    assert services["migrate"]["timeout_s"] == 300
    assert services["web"]["kind"] == "service"
    assert services["web"]["timeout_s"] is None
    assert services["web"]["depends_on"] == {"cache": "service_started",
                                             "migrate": "service_completed_successfully"}
    assert services["migrate"]["depends_on"] == {"db": "service_healthy"}


def test_plan_json_round_trips(root):
    plan = compile_(root, APP)
    assert json.loads(plan_json(plan)) == plan.to_json()
    assert type(plan).model_validate(plan.to_json()) == plan


def test_markdown_table(root):
    table = plan_table_markdown(compile_(root, APP))
    assert "| migrate | job | demo-migrate | db (healthy) | 5m |" in table
    assert table.splitlines()[0] == "| service | kind | image | waits for | timeout |"


# -- bad timeouts name the file and key -------------------------------------------------------
def test_long_form_dependency_needs_a_condition(root):
    err = compile_error(root, """\
        services:
          db: {image: x}
          web:
            image: x
            depends_on:
              db: {}
        """)
    assert str(err).startswith('compose.yaml: services.web.depends_on.db: missing property '
                               '"condition"')


def test_zero_top_level_job_timeout_is_an_error(root):
    err = compile_error(root, "x-prefect:\n  job_timeout: 0s\n"
                              "services:\n  a: {image: x, restart: 'no'}\n")
    assert "x-prefect.job_timeout" in str(err)


def test_negative_top_level_job_timeout_names_file_and_key(root):
    err = compile_error(root, "x-prefect:\n  job_timeout: -5m\n"
                              "services:\n  a: {image: x, restart: 'no'}\n")
    assert str(err).startswith("compose.yaml: x-prefect.job_timeout: ")


def test_service_timeout_must_be_positive(root):
    err = compile_error(root, "services:\n  a:\n    image: x\n    restart: 'no'\n"
                              "    x-prefect: {timeout: 0s}\n")
    assert str(err) == "compose.yaml: services.a.x-prefect.timeout: must be a positive duration"


def test_scale_zero_service_is_not_started(root):
    plan = compile_(root, """\
        services:
          web: {image: x, deploy: {replicas: 0}}
          w2: {image: x, scale: 0}
        """)
    started = {s.service for s in plan.steps}
    warned = " ".join(plan.warnings)
    for name in ("web", "w2"):
        assert name not in started or ("scale" in warned or "replicas" in warned)
