"""What Compose v2 rejects, `up` rejects before touching the engine (issue 7): exit 2, one
line naming the file, the service and the key path, and nothing labelled with the project on
the engine afterwards (no container, network or volume) and no deployment lock taken.

The fixtures are the bad-input fixtures of tests/fixtures/invalid/ (Compose's verdict on each
is checked by tests/conformance/test_invalid_agree.py); here a few that a real deployment
meets, each of which used to reach the engine and fail there (or not at all).
"""

from __future__ import annotations

import pytest
from safety_support import lock_of
from support.invalid_fixtures import FIXTURES, parse_expected

pytestmark = [pytest.mark.docker]

CASES = ["volume_source_unset", "memswap_limit_default_minus_one", "mem_limit_1_5_3m",
         "port_host_too_big", "scale_and_replicas_differ", "ulimits_soft_without_hard",
         "network_mode_with_networks"]


@pytest.mark.parametrize("name", CASES)
def test_a_file_compose_rejects_must_make_up_exit_2_before_touching_the_engine(
        pc, docker_client, project, name):
    expected = parse_expected(FIXTURES / f"{name}.expected")
    assert expected.compose == "rejects" and expected.exit == 2
    result = pc.run_cli("up", FIXTURES, project, "-f", f"{name}.yaml")
    assert result.rc == 2, result.show()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0] == expected.stderr[0][1], result.stderr
    assert pc.on_engine(docker_client, project) == []
    assert lock_of(docker_client, project) is None
