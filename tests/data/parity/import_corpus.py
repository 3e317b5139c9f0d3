"""Rebuild the parity corpus from bare git copies of the two source repositories.

    python tests/data/parity/import_corpus.py AWESOME_GIT_DIR DEFANG_GIT_DIR

Copies every compose file (``compose.yaml|yml``, ``docker-compose.yaml|yml`` and the
``compose.*.yaml`` variants) and only the side files ``docker compose config`` reads to accept
them: the ``.env`` beside a compose file, files named by ``env_file:``, ``extends: file:`` and
``include:``. Secret and config sources are kept as one-line dummies (``config`` does not read
them, but a real checkout has them). No Dockerfiles, no app source: ``config`` does not need
build contexts to exist. Existing corpus directories are replaced.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import yaml

HERE = Path(__file__).resolve().parent
COMPOSE_RE = re.compile(r"(^|/)(docker-)?compose(\.[^/]*)?\.ya?ml$", re.I)
CORPORA = {"awesome-compose": "docker/awesome-compose", "defang-samples": "DefangLabs/samples"}


def git(gitdir: str, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", gitdir, *args], check=True,
                          capture_output=True).stdout


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def side_files(doc: dict) -> tuple[set[str], set[str]]:
    """(files copied as they are, files replaced by a dummy) named by one compose document."""
    keep: set[str] = set()
    dummy: set[str] = set()
    if not isinstance(doc, dict):
        return keep, dummy
    for svc in (doc.get("services") or {}).values():
        if not isinstance(svc, dict):
            continue
        for e in as_list(svc.get("env_file")):
            keep.add(e["path"] if isinstance(e, dict) else e)
        ext = svc.get("extends")
        if isinstance(ext, dict) and ext.get("file"):
            keep.add(ext["file"])
    for inc in as_list(doc.get("include")):
        if isinstance(inc, dict):
            keep.update(as_list(inc.get("path")))
            keep.update(as_list(inc.get("env_file")))
        else:
            keep.add(inc)
    for top in ("secrets", "configs"):
        for obj in (doc.get(top) or {}).values():
            if isinstance(obj, dict) and obj.get("file"):
                dummy.add(obj["file"])
    return keep, dummy


def norm(base: PurePosixPath, rel: str) -> str | None:
    if "$" in rel or rel.startswith("/"):
        return None
    parts: list[str] = []
    for p in (base / rel).parts:
        if p == "..":
            if not parts:
                return None
            parts.pop()
        elif p != ".":
            parts.append(p)
    return "/".join(parts)


def import_repo(gitdir: str, dest: Path) -> None:
    names = git(gitdir, "ls-tree", "-r", "HEAD", "--name-only").decode().splitlines()
    tree = set(names)
    if dest.exists():
        shutil.rmtree(dest)
    todo = [n for n in names if COMPOSE_RE.search(n)]
    for n in list(todo):  # a .env beside a compose file is read by default
        env = str(PurePosixPath(n).parent / ".env").removeprefix("./")
        if env in tree and env not in todo:
            todo.append(env)
    done: set[str] = set()
    dummies: set[str] = set()
    while todo:
        n = todo.pop()
        if n in done:
            continue
        done.add(n)
        data = git(gitdir, "show", f"HEAD:{n}")
        out = dest / n
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        if not n.endswith((".yaml", ".yml")):
            continue
        try:
            doc = yaml.safe_load(data)
        except yaml.YAMLError:
            continue
        keep, dummy = side_files(doc)
        base = PurePosixPath(n).parent
        for rel in keep:
            p = norm(base, rel)
            if p and p in tree:
                todo.append(p)
        for rel in dummy:
            p = norm(base, rel)
            if p:
                dummies.add(p)
    for p in dummies - done:
        out = dest / p
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("dummy-secret\n")


def main(argv: list[str]) -> int:
    awesome, defang = argv
    for name, gitdir in zip(CORPORA, (awesome, defang)):
        import_repo(gitdir, HERE / name)
        print(name, git(gitdir, "rev-parse", "HEAD").decode().strip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
