"""The plan artifact as people see it: headless Chromium (Debian's `chromium`) opens it in both
Prefect UIs (V1 at `/`, the default of Prefect 3.8; V2 under `/v2/`) for the bundled example
and for a generated 50-service project. The screenshots are kept as files (their paths are
printed; `tests/artifacts/` or `$PREFECT_COMPOSE_TEST_ARTIFACTS`), and each page's rendered DOM
is checked: V2 draws every Mermaid graph as an SVG flowchart with the services as nodes; V1,
which draws no Mermaid, shows the table and the graph's source as text."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from support.browser import (
    artifact_url, artifacts_dir, chromium, open_page, png_colours, png_size)
from support.generated import generated_compose

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "release"


@pytest.fixture(scope="module")
def browser() -> str:
    return chromium()  # fails under CI when missing, else skips


def _publish(project_dir: Path, name: str):
    """Compile the project and publish its plan artifact from a flow run, as `up` does
    (run/report.publish_plan); returns (plan, artifact id)."""
    from prefect import flow, get_run_logger
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.runtime import flow_run

    from prefect_compose.project import ProjectOptions, load_and_compile
    from prefect_compose.run.report import publish_plan

    @flow(name="pc-test-plan-artifact", flow_run_name=name)
    def publish() -> str:
        _, plan = load_and_compile(ProjectOptions(project_dir=str(project_dir),
                                                  project_name=name))
        publish_plan(plan, get_run_logger())
        return str(flow_run.id)

    run_id = publish()
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))
    assert len(found) == 1, found
    _, plan = load_and_compile(ProjectOptions(project_dir=str(project_dir), project_name=name))
    return plan, found[0].id


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _mermaid_svgs(page: str) -> list[str]:
    return re.findall(r'<svg id="mermaid-[^"]*"[^>]*class="flowchart".*?</svg>', page, re.S)


CASES = {"example": (EXAMPLE, 1, 1500), "generated-50": (None, 6, 12000)}


@pytest.mark.parametrize("case", list(CASES))
def test_the_plan_artifact_must_render_in_both_prefect_uis(prefect_server, browser, tmp_path,
                                                           case):
    directory, graphs, height = CASES[case]
    if directory is None:
        directory = tmp_path / "generated"
        directory.mkdir()
        (directory / "compose.yaml").write_text(generated_compose(50))
    name = f"pc-test-ui-{case}"
    plan, artifact_id = _publish(directory, name)
    services = [s.name for s in plan.services]
    assert len(services) == (4 if case == "example" else 50)
    for ui in ("v1", "v2"):
        url = artifact_url(prefect_server, artifact_id, ui)
        with open_page(url, height=height) as page:
            page.wait_for(f"document.body && document.body.innerText.includes("
                          f"{f'Plan for {name}'!r}) && document.body.innerText.includes("
                          f"{services[-1]!r})")
            if ui == "v2":  # Mermaid draws after the markdown: wait for every graph's nodes
                # what the assertions below read: finished flowcharts (Mermaid first draws
                # into a scratch SVG; the HTML read mid-draw held none, once in CI)
                page.wait_for(f"document.querySelectorAll('svg[id^=\"mermaid-\"]"
                              f"[class=\"flowchart\"]').length >= {graphs} && "
                              f"document.querySelectorAll('svg[id^=\"mermaid-\"]"
                              f"[class=\"flowchart\"] .node').length >= {len(services)}")
            png = page.screenshot(artifacts_dir() / f"plan-{case}-{ui}.png")
            page_html = page.html()
        print(f"\nscreenshot of the {case} plan artifact in the {ui} UI: {png} ({url}; "
              f"{page.reloads} reloads)")
        assert png_size(png) == (1400, height)
        assert png_colours(png) > 50, f"{png} looks blank: the page did not paint"
        text = _text(page_html)
        assert f"Plan for {name}" in text, f"{ui}: the artifact did not render"
        assert "<table" in page_html and all(s in text for s in services), \
            f"{ui}: the table must list every service"
        if ui == "v2":  # draws Mermaid: one SVG flowchart per graph, every service a node
            svgs = _mermaid_svgs(page_html)
            assert len(svgs) == graphs, f"{len(svgs)} graphs drawn, {graphs} expected"
            labels = _text(" ".join(svgs))
            missing = [s for s in services if s not in labels]
            assert not missing, f"services without a node: {missing}"
            assert "flowchart LR" not in text, "drawn, not shown as source"
        else:  # V1 draws no Mermaid: the graph's source reads as text after the table
            assert "flowchart LR" in text and text.index("flowchart LR") > text.index(
                services[-1]), "the graph's text comes after the table"
            assert text.count("flowchart LR") == graphs
