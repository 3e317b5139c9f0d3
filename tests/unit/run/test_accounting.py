"""Size-seconds accounting: a container's size (CPU and memory units) times its wall time."""

from __future__ import annotations

import pytest

from prefect_compose.run.accounting import UNIT_MEMORY, size_seconds, size_units


@pytest.mark.parametrize("cpus, mem, expected", [
    (None, None, 1.0),             # no limits: one standard unit
    (2.0, None, 2.0),              # CPU-bound size
    (0.5, 2 * UNIT_MEMORY, 2.0),   # memory makes it larger
    (0.25, UNIT_MEMORY // 2, 0.5),  # smaller than a unit
])
def test_size_units(cpus, mem, expected):
    assert size_units(cpus, mem) == expected


def test_size_seconds_is_size_times_wall_seconds():
    assert size_seconds(2.0, None, 10.0) == 20.0
    assert size_seconds(None, None, 1.5) == 1.5
    assert size_seconds(None, None, -1) == 0.0
