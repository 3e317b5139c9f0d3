"""Size-seconds, the way PaaS platforms bill one-off containers.

A container's *size* is how many standard units its limits ask for: one unit is 1 CPU or
512 MiB of memory, whichever the limits make larger; a container without limits is size 1.
Size-seconds = size x wall-clock seconds.
"""

from __future__ import annotations

UNIT_MEMORY = 512 * 1024 * 1024


def size_units(cpus: float | None, mem_bytes: int | None) -> float:
    by_cpu = cpus if cpus else 0.0
    by_mem = (mem_bytes / UNIT_MEMORY) if mem_bytes else 0.0
    size = max(by_cpu, by_mem)
    return size if size > 0 else 1.0


def size_seconds(cpus: float | None, mem_bytes: int | None, seconds: float) -> float:
    return round(size_units(cpus, mem_bytes) * max(seconds, 0.0), 3)
