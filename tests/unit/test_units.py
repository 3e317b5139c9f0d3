"""Durations, normalised to seconds once, in the model stage (units.parse_duration). Expected
values follow Docker Compose v2 (`docker-compose config --format json`), run by hand on the
same inputs."""

from __future__ import annotations

import pytest



# -- durations (normalised to seconds once, in the model stage) -----------------------------
@pytest.mark.parametrize("text, seconds", [
    ("90s", 90.0), ("1m30s", 90.0), ("2h", 7200.0), ("500ms", 0.5), ("1h30m", 5400.0),
    ("1.5h", 5400.0), ("5.s", 5.0), (".5s", 0.5), ("+5s", 5.0), ("0", 0.0), ("1us", 1e-6),
    ("1\u00b5s", 1e-6), ("2h45m30.5s", 9930.5),
])
def test_durations_as_compose_reads_them(text, seconds):
    from prefect_compose.units import parse_duration

    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5x", "00", "1m30", "1e3s", "1 m", "", "30", "1M", "1y"])
def test_invalid_durations(text):
    from prefect_compose.units import parse_duration

    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("value", [30, 1.5, True, None, ["1s"]])
def test_non_string_durations(value):
    from prefect_compose.units import parse_duration

    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)


@pytest.mark.parametrize("text, seconds", [("1d", 86400.0), ("1w", 604800.0),
                                           ("2d12h", 216000.0)])
def test_day_and_week_durations(text, seconds):
    from prefect_compose.units import parse_duration

    assert parse_duration(text) == seconds


def test_parse_duration_gives_the_same_answer_when_asked_again():
    from prefect_compose.units import parse_duration

    for _ in range(2):
        assert parse_duration("1m30s") == 90.0
        assert parse_duration(" 2s ") == 2.0
        with pytest.raises(ValueError, match="a number needs a unit"):
            parse_duration("30")  # an error is never remembered as a value
        with pytest.raises(ValueError, match="a number needs a unit"):
            parse_duration(30)
