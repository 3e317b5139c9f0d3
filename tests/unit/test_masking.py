"""Every line of container output goes through one place, where secret-looking environment
values are masked before they reach the terminal or the Prefect logs."""

from __future__ import annotations

import logging
import textwrap

from prefect_compose.load import load_project
from prefect_compose.plan.compile import compile_plan


def test_secret_values_are_masked_in_terminal_and_log_output(tmp_path, monkeypatch, capsys):
    from prefect_compose.run.state import Options, RunState

    monkeypatch.chdir(tmp_path)
    (tmp_path / "compose.yaml").write_text(textwrap.dedent("""\
        services:
          migrate:
            image: busybox:latest
            restart: "no"
            environment:
              DB_PASSWORD: hunter22
              API_TOKEN: tok-123456
              GREETING: hello
        """))
    project = load_project(["compose.yaml"], project_name="demo", environ={})
    d = RunState(project=project, plan=compile_plan(project), engine=None,  # type: ignore
                   flow_run_id="run", options=Options(echo=True))
    records: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("test-masking")
    logger.addHandler(Capture())
    logger.setLevel(logging.INFO)
    d.out.emit("migrate", "connecting with hunter22 and tok-123456, saying hello", logger)
    out = capsys.readouterr().out
    for text in (out, records[0]):
        assert "hunter22" not in text and "tok-123456" not in text
        assert "********" in text and "hello" in text  # non-secret values are left alone
    assert out.startswith("migrate | ")
