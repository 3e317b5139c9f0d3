"""The per-file schema: unknown keys, wrong types, options warned about. Expected values follow
Docker Compose v2 (`docker-compose config --format json`), run by hand on the same inputs."""

from __future__ import annotations

import pytest

from prefect_compose.errors import InputError

from inline_project import write, load, load_error, SIMPLE


# -- malformed values must be InputErrors, never crashes ------------------------------------
@pytest.mark.parametrize("snippet", [
    "    volumes: 1",
    "    profiles: 1",
    "    profiles: [[a]]",
    "    secrets: 1",
    "    configs: true",
    "    networks: [{a: 1}]",
])
def test_wrong_types_are_input_errors(proj, snippet):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n" + snippet + "\n"})
    load_error()


@pytest.mark.parametrize("top", ["secrets: 1", "configs: [a]", "secrets:\n  pw: text"])
def test_top_level_secrets_configs_wrong_types(proj, top):
    write(proj, {"compose.yaml": SIMPLE + top + "\n"})
    load_error()




# -- nested keys: validated as Compose does, or warned about --------------------------------
def test_unknown_key_in_long_volume_is_an_error(proj):
    write(proj, {"compose.yaml": """\
        services:
          web:
            image: x
            volumes:
              - type: bind
                source: ./data
                target: /data
                typo_key: 1
        """})
    err = load_error()
    assert "services.web.volumes[0]" in str(err) and "typo_key" in str(err)


@pytest.mark.parametrize("snippet, key", [
    ("    volumes:\n      - type: bind\n        source: ./d\n        target: /d\n"
     "        bind:\n          recursive: enabled\n", "recursive"),
    ("    volumes:\n      - type: volume\n        source: v\n        target: /v\n"
     "        volume:\n          subpath: x\n", "subpath"),
])
def test_unhonoured_nested_options_are_warned_about(proj, snippet, key):
    service = "services:\n  web:\n    image: x\n"
    text = (service + snippet) if snippet.startswith("    ") else (service + snippet)
    write(proj, {"compose.yaml": text + "volumes:\n  v: {}\n"})
    assert any(key in w for w in load().warnings)
