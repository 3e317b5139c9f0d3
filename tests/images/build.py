"""Build the tests' ``busybox:latest`` image locally, FROM scratch: no registry needed.

The image holds the host's static busybox (Debian package busybox-static, /bin/busybox) with
its applets installed as /bin symlinks, plus /tmp (1777), /root and a minimal /etc/passwd and
/etc/group (root, nobody). It is labelled ``org.prefect-compose.test-image=1`` and with a
digest of its inputs; when an image with that tag and label exists (and the inputs did not
change), nothing is built.

    python tests/images/build.py          # build if needed, print the image id
    python tests/images/build.py --force  # rebuild
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

TAG = "busybox:latest"
LABEL = "org.prefect-compose.test-image"
DIGEST_LABEL = "org.prefect-compose.test-image.digest"
BUSYBOX = Path("/bin/busybox")
DOCKERFILE = Path(__file__).resolve().parent / "busybox" / "Dockerfile"


class BusyboxMissing(RuntimeError):
    pass


def _inputs_digest() -> str:
    h = hashlib.sha256(DOCKERFILE.read_bytes())
    h.update(BUSYBOX.read_bytes())
    return h.hexdigest()[:16]


def ensure_busybox_image(client=None, *, force: bool = False) -> str:
    """Return the id of the local ``busybox:latest`` test image, building it if needed.

    ``client`` is a ``docker.DockerClient`` (None: ``docker.from_env()``, closed afterwards).
    """
    import docker

    own = client is None
    if own:
        client = docker.from_env()
    try:
        have_binary = BUSYBOX.is_file()
        digest = _inputs_digest() if have_binary else None
        if not force:
            try:
                image = client.images.get(TAG)
            except docker.errors.ImageNotFound:
                image = None
            labels = (image.labels or {}) if image is not None else {}
            if labels.get(LABEL) == "1" and (digest is None or labels.get(DIGEST_LABEL) == digest):
                return image.id  # fast path
        if not have_binary:
            raise BusyboxMissing(
                f"{BUSYBOX} not found: the test image {TAG} is built FROM scratch with the "
                "host's static busybox; install it with `apt-get install busybox-static`")
        with tempfile.TemporaryDirectory(prefix="pc-busybox-") as tmp:
            shutil.copy2(DOCKERFILE, Path(tmp) / "Dockerfile")
            shutil.copy2(BUSYBOX, Path(tmp) / "busybox")
            image, _ = client.images.build(path=tmp, tag=TAG, rm=True, forcerm=True, pull=False,
                                           labels={LABEL: "1", DIGEST_LABEL: digest})
        return image.id
    finally:
        if own:
            client.close()


if __name__ == "__main__":
    print(ensure_busybox_image(force="--force" in sys.argv[1:]))
