"""The README's automation example (examples/automations/notify-failed-deployment.yaml) is
what `prefect automation create --from-file` accepts, and it listens for the event a failed
deployment emits (run/milestones.py)."""

from __future__ import annotations

from pathlib import Path

import yaml

from prefect_compose.run import milestones

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "automations" / \
    "notify-failed-deployment.yaml"


def test_the_automation_example_must_be_valid_and_match_the_failed_event():
    from prefect.events.schemas.automations import AutomationCore

    automation = AutomationCore.model_validate(yaml.safe_load(EXAMPLE.read_text()))
    event = f"{milestones.EVENT_PREFIX}.deployment.failed"
    assert automation.trigger.expect == {event}
    assert automation.actions[0].type == "send-notification"
    pattern = automation.trigger.match.root["prefect.resource.id"]
    assert pattern == f"{milestones.EVENT_PREFIX}.project.*"
    assert event in milestones.__doc__ and "prefect-compose.step.failed" in EXAMPLE.read_text()
