"""plan/pull.py: pull_policy as Compose v2 reads it (compose-go GetPullPolicy, compose
mustPull): what is pulled, and what must already be there."""

from __future__ import annotations

import pytest
from inline_project import load, write

from prefect_compose.plan.compile import compile_plan
from prefect_compose.plan.pull import image_needs, missing_message, must_pull, pull_rule


@pytest.mark.parametrize(("policy", "rule"), [
    (None, ("missing", None)), ("missing", ("missing", None)),
    ("if_not_present", ("missing", None)), ("refresh", ("missing", None)),
    ("always", ("always", None)), ("never", ("never", None)), ("build", ("build", None)),
    ("daily", ("refresh", 86400.0)), ("weekly", ("refresh", 604800.0)),
    ("every_1h30m", ("refresh", 5400.0)), ("every_2d", ("refresh", 172800.0)),
])
def test_pull_rule_must_read_policies_as_compose(policy, rule):
    assert pull_rule(policy) == rule


def needs(proj, text):
    write(proj, {"compose.yaml": text})
    project = load()
    return {n.ref: n for n in image_needs(project, compile_plan(project),
                                          sorted(project.services))}


def test_each_policy_must_decide_when_to_pull(proj):
    n = needs(proj, """\
        services:
          a: {image: img-a, pull_policy: always}
          b: {image: img-b, pull_policy: never}
          c: {image: img-c}
          d: {image: img-d, pull_policy: every_10m}
          e: {image: img-e, pull_policy: build, build: {context: .}}
          f:
            image: img-f
            pull_policy: build
            pre_start: [{image: hook-img, command: ["true"]}]
          g: {image: img-e, pull_policy: always}  # built by e: a failed pull is no error
        """)
    assert must_pull(n["img-a"], True, 1.0) and must_pull(n["img-a"], False, None)
    assert not must_pull(n["img-b"], False, None)
    assert "pull_policy is never" in missing_message(n["img-b"])
    assert must_pull(n["img-c"], False, None) and not must_pull(n["img-c"], True, None)
    assert not must_pull(n["img-d"], True, 60.0) and must_pull(n["img-d"], True, 601.0)
    assert must_pull(n["img-d"], False, None)
    assert n["img-e"].buildable and not must_pull(n["img-e"], False, None)
    assert not must_pull(n["img-f"], False, None)  # build without a build: never pulled
    assert n["hook-img"].hook and n["hook-img"].policy == "missing"  # a hook is not built
    assert must_pull(n["hook-img"], False, None)


def test_a_build_must_carry_its_inline_dockerfile_and_labels(proj):
    write(proj, {"compose.yaml": """\
        services:
          app:
            build:
              context: .
              dockerfile_inline: "FROM busybox\\n"
              labels: [a=1, b]
        """})
    [build] = compile_plan(load()).builds
    assert build.dockerfile_inline == "FROM busybox\n" and build.dockerfile is None
    assert build.labels == {"a": "1", "b": ""}


def test_dockerfile_and_dockerfile_inline_must_be_exclusive(proj):
    from inline_project import load_error

    write(proj, {"compose.yaml": """\
        services:
          app:
            build: {context: ., dockerfile: Dockerfile, dockerfile_inline: "FROM x"}
        """})
    err = load_error()
    assert err.path == "services.app.build.dockerfile_inline" and "exclusive" in str(err)


def test_build_options_must_reach_the_build_spec(proj):
    from inline_project import load_error

    write(proj, {"compose.yaml": """\
        services:
          app:
            build:
              context: .
              tags: [extra:1]
              network: none
              extra_hosts: {h: 10.0.0.1}
              shm_size: 8m
              no_cache: true
              pull: "true"
        """})
    [b] = compile_plan(load()).builds
    assert b.tags == ("proj-app", "extra:1")
    assert (b.network, b.extra_hosts, b.shm_size, b.no_cache, b.pull) == (
        "none", ("h:10.0.0.1",), 8 * 1024**2, True, True)
    write(proj, {"compose.yaml": "services:\n  app:\n    build: {context: ., network: host}\n"})
    err = load_error()
    assert err.path == "services.app.build.network" and "host escape" in str(err)
