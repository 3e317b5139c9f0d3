"""Keys passed to the engine are checked and typed by the model, so the runtime only copies
them (sizes in bytes, numbers as ints, booleans as bools)."""

from __future__ import annotations

from inline_project import load, load_error, write

from prefect_compose.plan.containers import build_spec


def test_sizes_numbers_and_booleans_must_be_typed_in_the_model(proj):
    write(proj, {"compose.yaml": """\
        services:
          web:
            image: busybox
            shm_size: 64m
            mem_reservation: "1.5g"
            memswap_limit: -1
            pids_limit: "100"
            oom_score_adj: -500
            privileged: "true"
            read_only: false
        """})
    opts = load().services["web"].engine_options
    assert opts["shm_size"] == 64 * 1024**2
    assert opts["mem_reservation"] == int(1.5 * 1024**3)
    assert opts["memswap_limit"] == -1
    assert opts["pids_limit"] == 100 and opts["oom_score_adj"] == -500
    assert opts["privileged"] is True and opts["read_only"] is False


def test_container_spec_must_copy_the_parsed_sizes(proj):
    write(proj, {"compose.yaml": """\
        services:
          web:
            image: busybox
            shm_size: 64m
            memswap_limit: 1g
        """})
    project = load()
    spec = build_spec(project, project.services["web"], image="busybox", config_hash="h",
                      oneoff=False)
    assert spec.extra["ShmSize"] == 64 * 1024**2
    assert spec.extra["MemorySwap"] == 1024**3


def test_a_size_the_model_cannot_parse_must_be_an_input_error(proj):
    write(proj, {"compose.yaml": """\
        services:
          web:
            image: busybox
            shm_size: lots
        """})
    err = load_error()
    assert str(err).startswith("compose.yaml: services.web.shm_size: invalid size")
