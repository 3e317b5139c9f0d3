"""The masker: what it masks (secret names, URL passwords, known values, secret file
contents) and what it must leave alone (common words, public names, short values)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from prefect_compose import masking
from prefect_compose.masking import MASK, Masker, is_secret_name


@pytest.mark.parametrize("name", ["PASSWORD", "POSTGRES_PASSWORD", "db_passwd", "API_TOKEN",
                                  "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "SECRET_KEY_BASE",
                                  "API_KEY", "APIKEY", "STRIPE_KEY", "DB_PASS", "MYSQL_PWD",
                                  "GOOGLE_CREDENTIALS", "SSH_PASSPHRASE", "key"])
def test_secret_looking_names_must_be_recognised(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["POSTGRES_USER", "DATABASE_URL", "KEYCLOAK_URL", "MONKEY",
                                  "HOCKEY_TEAM", "PORT", "GREETING", "PASSENGER_COUNT"])
def test_ordinary_names_must_not_be_taken_for_secrets(name):
    assert not is_secret_name(name)


@pytest.mark.parametrize("line, hidden", [
    ("DB_PASSWORD=hunter22", "hunter22"),
    ("export API_TOKEN='abc def'", "abc def"),
    ('{"POSTGRES_PASSWORD": "pg-s3cret", "POSTGRES_USER": "app"}', "pg-s3cret"),
    ("{'SECRET_KEY': 'xyzzy'}", "xyzzy"),
    ("password: swordfish", "swordfish"),
    ("GET /cb?token=t0k3n&next=/home", "t0k3n"),
])
def test_the_value_after_a_secret_looking_name_must_be_masked(line, hidden):
    out = Masker().mask(line)
    assert hidden not in out and MASK in out


def test_a_non_secret_name_keeps_its_value():
    assert Masker().mask("POSTGRES_USER=app GREETING=hello") == "POSTGRES_USER=app GREETING=hello"


@pytest.mark.parametrize("line, password", [
    ("DATABASE_URL=postgres://app:pA55word@db:5432/app", "pA55word"),
    ("redis://:onlypass@cache:6379/0", "onlypass"),
    ("amqp://guest:guest@rabbit:5672/ and mysql://root:r00t@db/x", "r00t"),
    ("connecting to https://bob:p%40ss@example.com/x", "p%40ss"),
])
def test_the_password_of_any_url_must_be_masked_known_or_not(line, password):
    out = Masker().mask(line)
    assert password not in out
    assert f":{MASK}@" in out


def test_urls_without_a_password_must_be_left_alone():
    for line in ("http://example.com:8080/path@v2", "postgres://app@db/x", "see https://x.org"):
        assert Masker().mask(line) == line


def test_a_known_value_must_be_masked_wherever_it_appears():
    m = Masker(["Zr7-long-secret"])
    assert m.mask("prefix Zr7-long-secret suffix") == f"prefix {MASK} suffix"
    assert m.mask("embeddedZr7-long-secretx") == f"embedded{MASK}x"  # long: even inside a word


def test_a_short_known_value_must_be_masked_after_its_name_but_not_bare():
    m = Masker(["hunt3r"])
    assert m.mask("DB_PASSWORD=hunt3r") == f"DB_PASSWORD={MASK}"
    assert m.mask("hunt3rs and rehunt3r") == "hunt3rs and rehunt3r"


def test_a_common_word_password_must_not_blank_that_word_everywhere():
    """POSTGRES_PASSWORD=postgres must not turn every "postgres" into stars; the value is
    still masked after its name and in a URL."""
    m = Masker(["postgres"])
    line = "postgres | starting postgres 16 (image postgres:16)"
    assert m.mask(line) == line
    assert m.mask("POSTGRES_PASSWORD=postgres") == f"POSTGRES_PASSWORD={MASK}"
    assert m.mask("postgres://postgres:postgres@db/postgres") == \
        f"postgres://postgres:{MASK}@db/postgres"


def test_a_value_that_is_also_a_public_word_of_the_project_must_not_be_masked_bare():
    m = Masker(["webapp01"], public=["webapp01"])  # e.g. a service or user name
    assert m.mask("webapp01 | ready") == "webapp01 | ready"
    assert m.mask("DB_PASSWORD=webapp01") == f"DB_PASSWORD={MASK}"


def test_a_part_of_a_project_or_service_name_must_never_be_masked_bare(tmp_path):
    """A secret "defang1x" in one project must not star out project "defang1x-handoff"."""
    masking.register(["defang1x"])
    _load(tmp_path, "services:\n  defang1x-web:\n    image: busybox:latest\n")
    assert masking.mask("defang1x-web | up") == "defang1x-web | up"


def test_the_contents_of_a_secrets_file_must_be_masked_whole_and_line_by_line():
    content = "-----BEGIN KEY-----\nMIIEowIBAAKCAQEA1x2y3\nQ9sd8f7g6h5j4k3l2\n-----END KEY-----\n"
    m = Masker([content])
    out = m.mask("cat /run/secrets/k: MIIEowIBAAKCAQEA1x2y3 then Q9sd8f7g6h5j4k3l2")
    assert "MIIEowIBAAKCAQEA1x2y3" not in out and "Q9sd8f7g6h5j4k3l2" not in out
    assert m.mask(content).count(MASK) >= 1 and "MIIEow" not in m.mask(content)


def test_a_url_password_inside_a_known_value_must_be_masked_when_printed_bare():
    m = Masker(["postgres://app:Very-s3cret-pw@db/app"])
    assert m.mask("the password is Very-s3cret-pw") == f"the password is {MASK}"


def test_longer_values_must_win_over_their_prefixes():
    m = Masker(["abcd1234", "abcd1234efgh5678"])
    assert m.mask("x abcd1234efgh5678 y") == f"x {MASK} y"


def test_mask_obj_must_mask_every_string_of_a_table():
    m = Masker(["Zr7-long-secret"])
    rows = [{"service": "db", "message": "failed: Zr7-long-secret"}, ("Zr7-long-secret", 1)]
    out = m.mask_obj(rows)
    assert "Zr7-long-secret" not in json.dumps(out) and out[1][1] == 1


def test_mask_bytes_must_keep_undecodable_bytes():
    m = Masker(["Zr7-long-secret"])
    assert m.mask_bytes(b"\xff Zr7-long-secret\n") == b"\xff " + MASK.encode() + b"\n"


def test_registered_values_must_be_masked_by_the_module_level_masker():
    masking.register(["Reg-1st-value-xyz"])
    masking.register_env({"SOME_TOKEN": "env-token-9876", "HOME": "/root-home-dir"})
    assert masking.mask("Reg-1st-value-xyz env-token-9876 /root-home-dir") == \
        f"{MASK} {MASK} /root-home-dir"


def test_a_masking_stream_must_mask_lines_split_across_writes():
    masking.register(["Split-secret-4567"])
    inner = io.StringIO()
    s = masking.MaskingStream(inner)
    s.write("a Split-sec")
    s.write("ret-4567 b\nnext ")
    assert inner.getvalue() == f"a {MASK} b\n"
    s.write("Split-secret-4567")
    s.flush()
    assert inner.getvalue() == f"a {MASK} b\nnext {MASK}"


def test_log_records_must_carry_masked_messages_and_tracebacks():
    masking.register(["Log-secret-value-1"])
    masking.install_log_masking()
    seen: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record))

    logger = logging.getLogger("test-masking-values")
    logger.addHandler(Capture())
    logger.propagate = False
    try:
        raise RuntimeError("boom Log-secret-value-1")
    except RuntimeError:
        logger.exception("failed with %s", "Log-secret-value-1")
    assert seen and "Log-secret-value-1" not in seen[0]
    assert "RuntimeError" in seen[0]


def _load(tmp_path, text: str, environ: dict | None = None, files: dict | None = None):
    from prefect_compose.load.project import load_project

    (tmp_path / "compose.yaml").write_text(text)
    for name, content in (files or {}).items():
        (tmp_path / name).write_text(content)
    return load_project([tmp_path / "compose.yaml"], project_name="demo",
                        environ=environ or {})


def test_loading_a_project_must_register_every_kind_of_secret(tmp_path):
    _load(tmp_path, """\
services:
  app:
    image: busybox:latest
    environment:
      DB_PASSWORD: Literal-pw-1111
      DATABASE_URL: postgres://app:Url-pw-2222@db/app
      CONN: ${FROM_ENV_TOKEN}
    build:
      context: .
      args: {NPM_TOKEN: Build-arg-3333}
    secrets: [api_key, from_env]
secrets:
  api_key: {file: ./api_key.txt}
  from_env: {environment: SOME_VALUE}
""", environ={"FROM_ENV_TOKEN": "Env-token-5555", "SOME_VALUE": "Env-secret-6666"},
          files={"api_key.txt": "File-secret-7777\n"})
    for value in ("Literal-pw-1111", "Url-pw-2222", "Env-token-5555", "Build-arg-3333",
                  "Env-secret-6666", "File-secret-7777"):
        assert masking.mask(f"x {value} y") == f"x {MASK} y", value


def test_a_password_equal_to_a_public_name_must_not_blank_that_name(tmp_path):
    _load(tmp_path, """\
services:
  webadmin42:
    image: busybox:latest
    environment: {POSTGRES_USER: webadmin42, POSTGRES_PASSWORD: webadmin42}
""")
    assert masking.mask("webadmin42 | ready") == "webadmin42 | ready"
    assert masking.mask("POSTGRES_PASSWORD=webadmin42") == f"POSTGRES_PASSWORD={MASK}"


@pytest.mark.parametrize("line", [
    'cannot read Prefect Secret block "pc-test-secret": ValueError: not found',
    "the key: primary", "monkey=3 hockey: 4",
])
def test_a_keyword_inside_other_words_or_quoted_names_must_not_mask_what_follows(line):
    if line.startswith("the key"):
        assert Masker().mask(line) == f"the key: {MASK}"  # `key: x` is a secret-looking pair
    else:
        assert Masker().mask(line) == line


def test_a_quoted_pair_must_be_masked_in_shell_quotes_too():
    assert Masker().mask("echo 'DB_PASSWORD=swordfish1'") == f"echo 'DB_PASSWORD={MASK}'"


def test_a_key_path_ending_in_secrets_must_not_lose_the_word_after_it():
    from prefect_compose.masking import mask

    msg = "compose.yaml: services.a.build.secrets: build secrets need BuildKit"
    assert mask(msg) == msg
    # a secret-looking variable is still masked, with or without a dot before it
    assert "hunter2x" not in mask("DB_SECRET=hunter2x")
    assert "hunter2x" not in mask("env.DB_SECRET: hunter2x")
