"""Mount options are modelled and checked (short syntax modes as compose-go reads them), and
the types this engine cannot mount are refused at load time."""

from __future__ import annotations

import pytest
from inline_project import load, load_error, write

from prefect_compose.engine.apiconfig import container_config
from prefect_compose.plan.containers import build_spec


def test_short_syntax_modes_and_long_options_must_reach_the_engine(proj):
    write(proj, {"compose.yaml": """\
        services:
          app:
            image: busybox
            volumes:
              - ./d:/a:ro,z,rshared
              - data:/b:nocopy
              - {type: bind, source: ./d, target: /c, bind: {propagation: slave}}
              - {type: volume, target: /e, volume: {labels: [k=v]}}
              - {type: tmpfs, target: /t, tmpfs: {size: 1m, mode: "1770"}}
        volumes:
          data: {}
        """})
    project = load()
    a, b, c, e, t = project.services["app"].volumes
    assert (a.read_only, a.selinux, a.propagation) == (True, "z", "rshared")
    assert b.nocopy and c.propagation == "slave" and e.volume_labels == {"k": "v"}
    assert (t.tmpfs_size, t.tmpfs_mode) == (1024**2, 0o1770)
    host = container_config(build_spec(project, project.services["app"], image="busybox",
                                       config_hash="h", oneoff=False))["HostConfig"]
    assert host["Binds"] == [f"{proj}/d:/a:ro,z,rshared", f"{proj}/d:/c:slave"]
    mounts = {m["Target"]: m for m in host["Mounts"]}
    assert mounts["/b"]["VolumeOptions"] == {"NoCopy": True}
    assert mounts["/e"]["VolumeOptions"] == {"Labels": {"k": "v"}}
    assert mounts["/t"]["TmpfsOptions"] == {"SizeBytes": 1024**2, "Mode": 0o1770}


@pytest.mark.parametrize(("mount", "path", "words"), [
    ("{type: image, source: busybox, target: /i}", "services.app.volumes[0].type", "1.47"),
    ("{type: npipe, source: x, target: /i}", "services.app.volumes[0].type", "Windows"),
    ("{type: cluster, source: x, target: /i}", "services.app.volumes[0].type", "Swarm"),
    ("{type: bind, source: ., target: /i, bind: {propagation: sideways}}",
     "services.app.volumes[0].bind.propagation", "invalid propagation"),
    ("{type: bind, source: ., target: /i, bind: {selinux: q}}",
     "services.app.volumes[0].bind.selinux", "z or Z"),
    ("{type: tmpfs, target: /i, tmpfs: {mode: '99'}}", "services.app.volumes[0].tmpfs.mode",
     "octal"),
    ("{type: tmpfs, target: /i, tmpfs: {size: lots}}", "services.app.volumes[0].tmpfs.size",
     ""),
    ("{type: tmpfs, target: /i, volume: {nocopy: true}}", "services.app.volumes[0].volume",
     "type tmpfs"),
])
def test_bad_mounts_must_be_input_errors(proj, mount, path, words):
    write(proj, {"compose.yaml": f"services:\n  app:\n    image: busybox\n"
                                 f"    volumes: [{mount}]\n"})
    err = load_error()
    assert err.path == path, str(err)
    assert words in str(err)


def test_volumes_from_must_name_containers_and_start_services_first(proj):
    write(proj, {"compose.yaml": """\
        services:
          lender: {image: busybox}
          app: {image: busybox, volumes_from: ["lender:ro", "container:other:rw", lender]}
        """})
    project = load()
    app = project.services["app"]
    assert app.volumes_from == (("service", "lender", "ro"), ("container", "other", "rw"),
                                ("service", "lender", ""))
    assert "lender" in app.depends_on and "other" not in app.depends_on
    spec = build_spec(project, app, image="busybox", config_hash="h", oneoff=False)
    assert spec.extra["VolumesFrom"] == ["proj-lender-1:ro", "other:rw", "proj-lender-1"]
    write(proj, {"compose.yaml": """\
        services:
          lender: {image: busybox}
          app: {image: busybox, volumes_from: ["lender:rx"]}
        """})
    assert load_error().path == "services.app.volumes_from[0]"
