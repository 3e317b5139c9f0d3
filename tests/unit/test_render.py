"""The plan as the Prefect UI shows it: a Mermaid `flowchart LR` of services (not steps),
readable at 50 services, inside an artifact whose table comes first."""

from __future__ import annotations

import re
import textwrap

import pytest

from prefect_compose.load import load_project
from prefect_compose.plan.compile import compile_plan
from prefect_compose.plan.render import (
    implied_waits,
    in_plan_order,
    plan_artifact_markdown,
    plan_mermaid,
)
from support.generated import generated_compose

NODE = re.compile(r'^    (\w+)(\(\[|\[\[|>|\{\{|\[/)"([^"]*)"(\]\)|\]\]|\]|\}\}|/\])'
                  r':::(\w+)$', re.M)
EDGE = re.compile(r"^    (\w+) (-->|-\.->)(\|(\w+)\|)? (\w+)$", re.M)


@pytest.fixture
def compile_text(tmp_path, monkeypatch):
    for var in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES"):
        monkeypatch.delenv(var, raising=False)

    def make(text: str):
        (tmp_path / "compose.yaml").write_text(textwrap.dedent(text))
        return compile_plan(load_project([str(tmp_path / "compose.yaml")], project_name="demo",
                                         environ={}))
    return make


RELEASE = """\
    services:
      db:
        image: x
        healthcheck: {test: ["CMD", "true"], interval: 1s}
      migrate:
        image: x
        restart: "no"
        depends_on: {db: {condition: service_healthy}}
        x-prefect: {timeout: 2m}
      web:
        image: x
        depends_on: [migrate, cache]
        pre_start:
          - command: ["true"]
      cache: {image: x}
      warm:
        image: x
        restart: "no"
        depends_on:
          web: {condition: service_started, required: false}
    """


def nodes(text: str) -> dict[str, tuple[str, str, str]]:
    return {m[0]: (m[1], m[2], m[4]) for m in NODE.findall(text)}


def edges(text: str) -> list[tuple[str, str, str, str]]:
    return [(a, arrow, label, b) for a, arrow, _, label, b in EDGE.findall(text)]


def test_graph_must_flow_left_to_right_with_one_node_per_service_and_hook(compile_text):
    text = plan_mermaid(compile_text(RELEASE))
    assert text.startswith("flowchart LR\n")
    assert set(nodes(text)) == {"db", "migrate", "web", "cache", "warm", "web_pre_start_0_"}
    body = [line for line in text.splitlines()[1:] if not line.startswith("    classDef")]
    assert len(body) == len(nodes(text)) + len(edges(text)), "every line is a node or an edge"


def test_nodes_must_show_kind_and_timeout_with_jobs_and_services_shaped_apart(compile_text):
    n = nodes(plan_mermaid(compile_text(RELEASE)))
    assert n["migrate"] == ("[[", "migrate<br>job · timeout 2m", "job")
    assert n["db"][0] == "([" and n["db"][1].startswith("db<br>service · healthy ≤ ")
    assert n["cache"] == ("([", "cache<br>service", "service")
    assert n["web_pre_start_0_"] == (">", "web: pre_start[0]<br>hook · timeout 5m", "hook")


def test_edges_must_be_labelled_only_where_the_condition_is_not_the_default(compile_text):
    e = edges(plan_mermaid(compile_text(RELEASE)))
    assert ("db", "-->", "healthy", "migrate") in e  # a service waited for healthy
    assert ("migrate", "-->", "", "web_pre_start_0_") in e  # a job waited for: completed
    assert ("cache", "-->", "", "web_pre_start_0_") in e  # a service waited for: started
    assert ("web_pre_start_0_", "-->", "", "web") in e  # the hook runs before its service
    assert ("web", "-.->", "", "warm") in e  # optional: dotted
    assert len(e) == 5


def test_waits_another_path_implies_must_not_be_drawn_but_stay_in_the_table(compile_text):
    plan = compile_text("""\
        services:
          db: {image: x, healthcheck: {test: ["CMD", "true"]}}
          migrate: {image: x, restart: "no", depends_on: {db: {condition: service_healthy}}}
          api:
            image: x
            depends_on:
              db: {condition: service_healthy}
              migrate: {condition: service_completed_successfully}
          web:
            image: x
            depends_on:
              db: {condition: service_started}
              api: {condition: service_started}
              migrate: {condition: service_completed_successfully, required: false}
        """)
    assert implied_waits(plan) == {("db", "api"), ("db", "web"), ("migrate", "web")}
    e = {(a, b) for a, _, _, b in edges(plan_mermaid(plan))}
    assert e == {("db", "migrate"), ("migrate", "api"), ("api", "web")}
    md = plan_artifact_markdown(plan)
    assert "| web | service | x | api (started), db (started), migrate (completed, " \
           "optional) | - |" in md


def test_a_weaker_path_must_not_hide_a_stronger_wait(compile_text):
    plan = compile_text("""\
        services:
          db: {image: x, healthcheck: {test: ["CMD", "true"]}}
          cache: {image: x, depends_on: [db]}
          api:
            image: x
            depends_on:
              db: {condition: service_healthy}
              cache: {condition: service_started}
        """)
    assert implied_waits(plan) == set()
    assert ("db", "-->", "healthy", "api") in edges(plan_mermaid(plan))


def test_artifact_must_put_the_table_first_then_the_graph_and_a_legend(compile_text):
    md = plan_artifact_markdown(compile_text(RELEASE))
    table, graph, legend = md.index("| service | kind |"), md.index("```mermaid"), \
        md.index("Legend:")
    assert table < graph < legend
    assert "5 services (2 jobs, 3 long-running services), 7 steps." in md
    assert "| web | service + 1 pre_start hook | x | cache (started), migrate (completed) |" in md


def test_services_must_read_layer_by_layer_in_natural_order(tmp_path):
    (tmp_path / "compose.yaml").write_text(generated_compose(50))
    plan = compile_plan(load_project([str(tmp_path / "compose.yaml")], environ={}))
    order = [sp.name for sp in in_plan_order(plan)]
    assert order[:5] == ["cache", "db", "queue", "migrate-schema", "migrate-data"]
    assert order.index("api-2") < order.index("api-10")


def test_fifty_services_must_stay_one_node_each_with_few_labels(tmp_path):
    (tmp_path / "compose.yaml").write_text(generated_compose(50))
    plan = compile_plan(load_project([str(tmp_path / "compose.yaml")], environ={}))
    text = plan_mermaid(plan)
    assert len(plan.services) == 50
    assert len(nodes(text)) == 51  # and one pre_start hook
    e = edges(text)
    waits = sum(len(sp.depends_on) for sp in plan.services)
    assert len(e) < waits, "implied waits are left out"
    assert sum(1 for *_, label, _ in e if label) < len(e) / 2
