"""The engine keys' values, checked and typed by the model (model/options.py), and their
HostConfig form (plan/containers.py)."""

from __future__ import annotations

import pytest

from inline_project import load, load_error, write
from prefect_compose.plan.compile import config_hash
from prefect_compose.plan.containers import build_spec


def spec_of(proj, body: str):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n" + body})
    project = load()
    svc = project.services["web"]
    return project, build_spec(project, svc, image="x", config_hash=config_hash(svc),
                               oneoff=False)


def test_ulimits_single_value_and_soft_hard(proj):
    project, spec = spec_of(proj, "    ulimits:\n      nproc: 65535\n"
                                  "      nofile: {soft: 20000, hard: 40000}\n")
    assert spec.extra["Ulimits"] == [{"Name": "nofile", "Soft": 20000, "Hard": 40000},
                                     {"Name": "nproc", "Soft": 65535, "Hard": 65535}]


@pytest.mark.parametrize("body, message", [
    ("    ulimits:\n      nofile: {soft: 2, hard: 1}\n",
     "services.web.ulimits.nofile: soft limit 2 is above the hard limit 1"),
    ("    ulimits:\n      nofile: {soft: 2}\n", "services.web.ulimits.nofile: must be a whole number or a mapping with both soft"),
    ("    ulimits:\n      nofile: lots\n", "services.web.ulimits.nofile: must be a whole"),
    ("    devices: [\"/dev/a:dev/b\"]\n", "services.web.devices[0]: the container path"),
    ("    devices: [\"/dev/a:/dev/b:rx\"]\n", "services.web.devices[0]: invalid permissions"),
    ("    oom_score_adj: 2000\n", "services.web.oom_score_adj: must be between -1000 and 1000"),
    ("    tmpfs: run\n", 'services.web.tmpfs[0]: "run": the mount path must be absolute'),
    ("    cgroup: shared\n", 'services.web.cgroup: must be "host" or "private"'),
    ("    security_opt: [\"seccomp=missing.json\"]\n",
     "services.web.security_opt[0]: cannot read the seccomp profile missing.json"),
])
def test_bad_values_name_the_key(proj, body, message):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n" + body})
    assert message in str(load_error())


def test_device_forms(proj):
    _, spec = spec_of(proj, "    devices:\n      - /dev/fuse\n      - /dev/a:/dev/b:r\n"
                            "      - /dev/c:rw\n"
                            "      - {source: /dev/d, target: /dev/e, permissions: m}\n")
    assert [(d["PathOnHost"], d["PathInContainer"], d["CgroupPermissions"])
            for d in spec.extra["Devices"]] == [
        ("/dev/fuse", "/dev/fuse", "rwm"), ("/dev/a", "/dev/b", "r"), ("/dev/c", "/dev/c", "rw"),
        ("/dev/d", "/dev/e", "m")]


def test_a_cdi_device_is_warned_and_not_passed(proj):
    project, spec = spec_of(proj, "    devices: [nvidia.com/gpu=all, /dev/fuse]\n")
    assert [d["PathOnHost"] for d in spec.extra["Devices"]] == ["/dev/fuse"]
    assert any("services.web.devices: CDI devices (nvidia.com/gpu=all)" in w
               for w in project.warnings)


def test_seccomp_profile_file_is_sent_as_its_contents(proj):
    (proj / "profile.json").write_text('{"defaultAction": "SCMP_ACT_ALLOW"}')
    _, spec = spec_of(proj, "    security_opt:\n      - seccomp:profile.json\n"
                            "      - apparmor:unconfined\n      - no-new-privileges\n")
    assert spec.extra["SecurityOpt"] == ['seccomp={"defaultAction": "SCMP_ACT_ALLOW"}',
                                         "apparmor=unconfined", "no-new-privileges"]


def test_logging_driver_none_is_warned_and_not_passed(proj):
    project, spec = spec_of(proj, "    logging: {driver: none}\n")
    assert "LogConfig" not in spec.extra
    assert any("services.web.logging: driver none, ignored" in w for w in project.warnings)


def test_cpu_realtime_takes_microseconds_or_a_duration(proj):
    _, spec = spec_of(proj, "    cpu_rt_runtime: 400ms\n    cpu_rt_period: 1000000\n")
    assert (spec.extra["CpuRealtimeRuntime"], spec.extra["CpuRealtimePeriod"]) == (
        400000, 1000000)


def test_stdin_open_and_expose_reach_the_config(proj):
    _, spec = spec_of(proj, "    stdin_open: true\n    expose: [\"80\", \"90-91/udp\"]\n")
    assert spec.config_extra["OpenStdin"] is True
    assert spec.expose == ("80/tcp", "90/udp", "91/udp")


def test_label_files_become_labels_under_the_labels_key(proj):
    (proj / "a.labels").write_text("team=core\nowner=ops\n# comment\n")
    (proj / "b.labels").write_text("owner=dev\n")
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n"
                                 "    label_file: [a.labels, b.labels]\n"
                                 "    labels: {team: web}\n"})
    project = load()
    assert project.services["web"].labels == {"team": "web", "owner": "dev"}
    assert not project.warnings


def test_a_missing_label_file_names_the_key(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n    label_file: nope\n"})
    assert "services.web.label_file[0]: label file not found" in str(load_error())
