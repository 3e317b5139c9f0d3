"""The labels that own the state (docker/compose ``pkg/api/labels.go``): the project,
service, one-off and config-hash labels decide what exists and what changed, so
``docker compose -p NAME ps/logs/down`` and prefect-compose see the same containers."""

from __future__ import annotations

from collections.abc import Sequence

LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_ONEOFF = "com.docker.compose.oneoff"  # "True" / "False", as Compose writes them
LABEL_CONFIG_HASH = "com.docker.compose.config-hash"
LABEL_NUMBER = "com.docker.compose.container-number"
LABEL_NETWORK = "com.docker.compose.network"  # the network's key in the compose file
LABEL_VOLUME = "com.docker.compose.volume"  # the volume's key in the compose file
LABEL_VERSION = "com.docker.compose.version"
LABEL_WORKING_DIR = "com.docker.compose.project.working_dir"
LABEL_CONFIG_FILES = "com.docker.compose.project.config_files"
LABEL_IMAGE = "com.docker.compose.image"
LABEL_FLOW_RUN = "org.prefect-compose.flow-run-id"

# Written as com.docker.compose.version on everything we create. Compose compares it with its
# own version only to warn; any 2.x value keeps `docker compose down` quiet.
COMPOSE_VERSION = "2.40.3"


def compose_labels(project: str, service: str, *, config_hash: str, number: int | None = 1,
                   oneoff: bool = False, working_dir: str | None = None,
                   config_files: Sequence[str] = (), flow_run_id: str | None = None,
                   ) -> dict[str, str]:
    """The labels Compose v2 puts on a service container. ``docker compose ps`` lists only
    containers that carry a config-hash, so every container we create needs all of these."""
    labels = {LABEL_PROJECT: project, LABEL_SERVICE: service, LABEL_CONFIG_HASH: config_hash,
              LABEL_ONEOFF: "True" if oneoff else "False", LABEL_VERSION: COMPOSE_VERSION}
    if number is not None:
        labels[LABEL_NUMBER] = str(number)
    if working_dir:
        labels[LABEL_WORKING_DIR] = working_dir
    if config_files:
        labels[LABEL_CONFIG_FILES] = ",".join(config_files)
    if flow_run_id:
        labels[LABEL_FLOW_RUN] = flow_run_id
    return labels


def resource_labels(project: str, kind: str, key: str,
                    labels: dict[str, str] | None = None) -> dict[str, str]:
    """The labels of a network (``kind="network"``) or volume Compose creates for ``key``."""
    own = LABEL_NETWORK if kind == "network" else LABEL_VOLUME
    return {**(labels or {}), LABEL_PROJECT: project, own: key, LABEL_VERSION: COMPOSE_VERSION}
