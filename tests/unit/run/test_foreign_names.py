"""The container-name check (run/faults.py) reads the names the project's own containers
hold from the listing the deployment made already, and asks the engine only about the
others: an unchanged redeploy asks nothing; a name another service or project holds is still
refused. Pure logic: the engine is a dict of rows."""

from __future__ import annotations

import textwrap

from prefect_compose.load.project import load_project
from prefect_compose.plan.compile import compile_plan
from prefect_compose.run.faults import foreign_names


class _Engine:
    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows
        self.asked: list[list[str]] = []

    def rows_named(self, names):
        self.asked.append(list(names))
        return {n.lstrip("/"): r for r in self.rows for n in r["Names"] if n.lstrip("/") in names}


def _row(name: str, project: str | None, service: str | None) -> dict:
    labels = {}
    if project:
        labels["com.docker.compose.project"] = project
    if service:
        labels["com.docker.compose.service"] = service
    return {"Id": name.ljust(64, "0"), "Names": [f"/{name}"], "Labels": labels}


def _plan(tmp_path):
    path = tmp_path / "compose.yaml"
    path.write_text(textwrap.dedent("""\
        services:
          web: {image: busybox:latest}
          api: {image: busybox:latest}
          db: {image: busybox:latest}
        """))
    project = load_project([str(path)], project_name="shop", environ={})
    return project, compile_plan(project)


def test_names_the_projects_own_listing_holds_must_not_be_asked_again(tmp_path):
    project, plan = _plan(tmp_path)
    ours = [_row(f"shop-{s}-1", "shop", s) for s in ("web", "api", "db")]
    engine = _Engine(ours)
    assert foreign_names(engine, project, plan, rows=ours) == []
    assert engine.asked == [[]]  # nothing left to ask: no list call (rows_named of none)


def test_a_name_held_elsewhere_must_still_be_refused_with_the_listing(tmp_path):
    project, plan = _plan(tmp_path)
    ours = [_row("shop-web-1", "shop", "web"),
            _row("shop-api-1", "shop", "db")]  # the api's name, held by the db service's
    foreign = _row("shop-db-1", "other", "db")
    engine = _Engine([*ours, foreign])
    problems = foreign_names(engine, project, plan, rows=ours)
    assert engine.asked == [["shop-db-1"]]  # only the name no project container holds
    assert len(problems) == 2, problems
    assert any("service api" in p and "project shop" in p for p in problems)
    assert any("service db" in p and "project other" in p for p in problems)
    # without the listing: the same answer, every name asked
    engine.asked.clear()
    assert foreign_names(engine, project, plan) == problems
    assert engine.asked == [sorted(["shop-web-1", "shop-api-1", "shop-db-1"])]
