"""Per-line cost of the masker (it is on every output line): `python benchmarks/masking.py`.

Prints microseconds per line, the best of several repetitions, for lines with nothing to mask
and lines holding a URL password, a NAME=value pair and known values, with 5 and 50 known
secrets (a project's own, plus the secret-looking variables of a typical environment).
"""

from __future__ import annotations

import random
import string
import time

from prefect_compose.masking import Masker

CLEAN = ("2026-12-02 10:20:{i:02d} web | GET /api/items?page={i} 200 in 12ms user=alice "
         "host=db:5432 status ok")
DIRTY = "connecting to postgres://app:{a}@db:5432/app TOKEN={b} and {c}"


def per_line_us(masker: Masker, lines: list[str], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for line in lines:
            masker.mask(line)
        best = min(best, time.perf_counter() - t0)
    return best / len(lines) * 1e6


def main() -> None:
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits
    for n in (0, 5, 50):
        values = ["".join(rng.choices(alphabet, k=rng.randint(8, 40))) for _ in range(n)]
        masker = Masker(values, public=["postgres", "web", "alice"])
        clean = [CLEAN.format(i=i % 60) for i in range(5000)]
        print(f"{n:>3} known values: {per_line_us(masker, clean):6.2f} us/line, nothing to mask")
        if values:
            dirty = [DIRTY.format(a=values[i % n], b=values[(i + 1) % n], c=values[(i + 2) % n])
                     for i in range(5000)]
            print(f"{n:>3} known values: {per_line_us(masker, dirty):6.2f} us/line, "
                  "3 secrets on the line")


if __name__ == "__main__":
    main()
