"""Compose's labels (plan/labels.py): what `docker compose ps/down` reads back."""

from __future__ import annotations

import subprocess
import sys

from prefect_compose.plan.labels import (
    COMPOSE_VERSION,
    LABEL_CONFIG_FILES,
    LABEL_FLOW_RUN,
    LABEL_NETWORK,
    LABEL_NUMBER,
    LABEL_PROJECT,
    LABEL_VERSION,
    LABEL_VOLUME,
    LABEL_WORKING_DIR,
    compose_labels,
    resource_labels,
)


def test_compose_labels_must_carry_everything_compose_ps_needs():
    labels = compose_labels("demo", "web", config_hash="abc", working_dir="/src",
                            config_files=["/src/a.yaml", "/src/b.yaml"], flow_run_id="fr")
    assert labels["com.docker.compose.project"] == "demo"
    assert labels["com.docker.compose.service"] == "web"
    assert labels["com.docker.compose.config-hash"] == "abc"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert labels[LABEL_NUMBER] == "1" and labels[LABEL_VERSION] == COMPOSE_VERSION
    assert labels[LABEL_WORKING_DIR] == "/src"
    assert labels[LABEL_CONFIG_FILES] == "/src/a.yaml,/src/b.yaml"
    assert labels[LABEL_FLOW_RUN] == "fr"


def test_oneoff_labels_must_say_true_and_may_omit_the_number():
    labels = compose_labels("demo", "job", config_hash="h", number=None, oneoff=True)
    assert labels["com.docker.compose.oneoff"] == "True"
    assert LABEL_NUMBER not in labels and LABEL_FLOW_RUN not in labels


def test_resource_labels_must_not_let_user_labels_override_ownership():
    labels = resource_labels("demo", "network", "back", {LABEL_PROJECT: "other", "x": "1"})
    assert labels == {LABEL_PROJECT: "demo", LABEL_NETWORK: "back", "x": "1",
                      LABEL_VERSION: COMPOSE_VERSION}
    assert resource_labels("demo", "volume", "data")[LABEL_VOLUME] == "data"


def test_plan_containers_must_not_import_docker():
    code = ("import sys, prefect_compose.plan.containers, prefect_compose.plan.specs; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('docker', 'prefect')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
