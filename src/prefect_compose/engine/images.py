"""Images: inspect, pull, tag and build on the engine."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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

    def pull(self, ref: str) -> None:
        """Pull an image that is not present; EngineError naming it when that fails."""
        repo, tag = split_ref(ref)
        try:
            with translated(f"pull image {ref}", self.where):
                self._api.pull(repo, tag=tag)
        except EngineError as exc:
            raise EngineError(f"image {ref} is not on the engine and could not be pulled: "
                              f"{exc}") from None

    def tag(self, image: str, ref: str) -> None:
        repo, tag = split_ref(ref)
        with translated(f"tag {image} as {ref}", self.where):
            self._api.tag(image, repo, tag=tag)

    def build(self, context: Path, tag: str, dockerfile: str | None = None,
              args: Mapping[str, str] | None = None, target: str | None = None,
              labels: Mapping[str, str] | None = None,
              on_log: Callable[[str], None] | None = None,
              extra_tags: Sequence[str] = ()) -> str:
        """Build ``context`` on the engine (never pulling) and tag it; return the image id.
        Raise EngineError with the tail of the build output when the build fails."""
        lines: list[str] = []
        image_id = None
        what = f"build {tag}"
        with translated(what, self.where):
            stream = self._api.build(path=str(context), tag=tag, dockerfile=dockerfile,
                                     buildargs=dict(args or {}), target=target,
                                     labels=dict(labels or {}), rm=True, forcerm=True,
                                     pull=False, decode=True)
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
                        target=build.target, extra_tags=build.tags[1:], on_log=on_log)
