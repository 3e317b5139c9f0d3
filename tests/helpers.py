"""Small helpers shared by the tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def deadline_poll(fn: Callable[[], T], timeout: float, interval: float = 0.05,
                  message: str = "condition") -> T:
    """Call ``fn`` until it returns something truthy and return that; fail the test with an
    AssertionError once ``timeout`` seconds have passed (``fn`` is tried at least once, and
    once more at the deadline). Exceptions from ``fn`` propagate."""
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if result:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{message} not met within {timeout} s (last: {result!r})")
        time.sleep(min(interval, remaining))
