"""Images: inspect, pull, tag and build on the engine."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import tempfile
from pathlib import Path
from typing import Any

from prefect_compose.errors import EngineError, ResourceNotFound
from prefect_compose.engine.translate import translated
from prefect_compose.plan.compile import BuildSpec


def split_ref(ref: str) -> tuple[str, str]:
    """``repo[:tag]`` -> (repo, tag), the tag defaulting to ``latest`` (a registry port in
    ``host:5000/app`` is not a tag)."""
    repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "")
    return repo or ref, tag or "latest"


class ImagesMixin:
    """The image operations of :class:`~prefect_compose.engine.client.Engine`."""

    _api: Any

    def image_exists(self, ref: str) -> bool:
        return bool(self.image_id(ref))

    def image_id(self, ref: str) -> str:
        """The engine's id of a local image ("" when it is not there)."""
        try:
            with translated(f"inspect image {ref}", self.where):
                return self._api.inspect_image(ref)["Id"]
        except ResourceNotFound:
            return ""

    def pull(self, ref: str, why: str = "") -> None:
        """Pull an image (``why``: the pull policy that asks, for the error); EngineError
        naming it when that fails."""
        repo, tag = split_ref(ref)
        try:
            with translated(f"pull image {ref}", self.where):
                self._api.pull(repo, tag=tag)
        except EngineError as exc:
            if why:
                raise EngineError(f"image {ref} could not be pulled ({why}): {exc}") from None
            raise EngineError(f"image {ref} is not on the engine and could not be pulled: "
                              f"{exc}") from None

    def image_tagged_ago(self, ref: str) -> float | None:
        """Seconds since the local image was last tagged (pulled, built or tagged); None
        when the engine does not say."""
        import datetime as dt

        try:
            with translated(f"inspect image {ref}", self.where):
                stamp = ((self._api.inspect_image(ref).get("Metadata") or {})
                         .get("LastTagTime") or "")
        except ResourceNotFound:
            return None
        if not stamp or stamp.startswith("0001-"):
            return None
        head, _, frac = stamp.rstrip("Z").partition(".")
        when = dt.datetime.fromisoformat(head).replace(tzinfo=dt.UTC)
        if frac:
            digits = "".join(c for c in frac if c.isdigit())[:6]
            when = when.replace(microsecond=int(digits.ljust(6, "0")))
        return (dt.datetime.now(dt.UTC) - when).total_seconds()

    def tag(self, image: str, ref: str) -> None:
        repo, tag = split_ref(ref)
        with translated(f"tag {image} as {ref}", self.where):
            self._api.tag(image, repo, tag=tag)

    def build(self, context: Path, tag: str, dockerfile: str | None = None,
              args: Mapping[str, str] | None = None, target: str | None = None,
              labels: Mapping[str, str] | None = None,
              on_log: Callable[[str], None] | None = None,
              extra_tags: Sequence[str] = (), dockerfile_inline: str | None = None,
              network: str | None = None, extra_hosts: Sequence[str] = (),
              shm_size: int | None = None, no_cache: bool = False,
              pull: bool = False) -> str:
        """Build ``context`` on the engine and tag it; return the image id. The base image is
        pulled only with ``pull``. ``dockerfile_inline`` is written to a file outside the
        context, which the SDK adds to the build context under a random name. Raise
        EngineError with the tail of the build output when the build fails."""
        if dockerfile_inline is not None:
            with tempfile.TemporaryDirectory(prefix="pc-dockerfile-") as tmp:
                path = Path(tmp) / "Dockerfile"
                path.write_text(dockerfile_inline, encoding="utf-8")
                return self.build(context, tag, dockerfile=str(path), args=args, target=target,
                                  labels=labels, on_log=on_log, extra_tags=extra_tags,
                                  network=network, extra_hosts=extra_hosts, shm_size=shm_size,
                                  no_cache=no_cache, pull=pull)
        options: dict[str, Any] = {}
        if network:
            options["network_mode"] = network
        if extra_hosts:
            options["extra_hosts"] = list(extra_hosts)
        if shm_size:
            options["shmsize"] = shm_size
        lines: list[str] = []
        image_id = None
        what = f"build {tag}"
        with translated(what, self.where):
            stream = self._api.build(path=str(context), tag=tag, dockerfile=dockerfile,
                                     buildargs=dict(args or {}), target=target,
                                     labels=dict(labels or {}), rm=True, forcerm=True,
                                     pull=pull, nocache=no_cache, decode=True, **options)
            for msg in stream:
                if "error" in msg or "errorDetail" in msg:
                    error = (msg.get("errorDetail") or {}).get("message") or msg.get("error")
                    tail = "\n".join(lines[-20:])
                    raise EngineError(f"{what} failed: {str(error).strip()}\n{tail}".rstrip())
                image_id = ((msg.get("aux") or {}).get("ID")) or image_id
                for line in (msg.get("stream") or msg.get("status") or "").splitlines():
                    if line.strip():
                        lines.append(line)
                        if on_log is not None:
                            on_log(line)
            if image_id is None:
                image_id = self._api.inspect_image(tag)["Id"]
        for ref in extra_tags:
            self.tag(image_id, ref)
        return image_id


def build_image(engine: ImagesMixin, build: BuildSpec,
                on_log: Callable[[str], None] | None = None) -> str:
    """Build once, tag with every tag the plan gives this build; returns the image id."""
    return engine.build(context=Path(build.context), tag=build.tags[0],
                        dockerfile=build.dockerfile,
                        args={k: v for k, v in build.args.items() if v is not None},
                        target=build.target, labels=build.labels, extra_tags=build.tags[1:],
                        on_log=on_log, dockerfile_inline=build.dockerfile_inline,
                        network=build.network, extra_hosts=build.extra_hosts,
                        shm_size=build.shm_size, no_cache=build.no_cache, pull=build.pull)
