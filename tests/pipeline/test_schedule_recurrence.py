"""ScheduleRecurrence: the SDK's validation, and due times against a given ``now``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dataferry.errors import ScheduleValidationError
from dataferry.pipeline.schedule_recurrence import (
    ScheduleRecurrence,
    TimeZone,
    anchor_of,
    latest_due,
    next_due,
)

T = datetime(2027, 3, 1, 10, 0, 0)  # a Monday


def due(r: ScheduleRecurrence, after: datetime, anchor: datetime = T) -> datetime:
    return next_due(r, anchor, after)


def test_minute_and_hour_steps_from_the_anchor() -> None:
    every5 = ScheduleRecurrence("Minute", 5)
    assert due(every5, datetime(2027, 3, 1, 9, 0)) == T
    assert due(every5, T) == datetime(2027, 3, 1, 10, 5)
    assert due(every5, datetime(2027, 3, 1, 10, 7, 30)) == datetime(2027, 3, 1, 10, 10)
    assert latest_due(every5, T, datetime(2027, 3, 1, 10, 9, 59)) == datetime(
        2027, 3, 1, 10, 5
    )
    assert latest_due(every5, T, datetime(2027, 3, 1, 9, 59)) is None
    hourly = ScheduleRecurrence("Hour", 2)
    assert due(hourly, datetime(2027, 3, 1, 11)) == datetime(2027, 3, 1, 12)


def test_day_week_and_month_with_times_and_days() -> None:
    daily = ScheduleRecurrence("Day", 2, hours=[6, 18], minutes=[30])
    assert due(daily, T) == datetime(2027, 3, 1, 18, 30)
    assert due(daily, datetime(2027, 3, 1, 18, 30)) == datetime(2027, 3, 3, 6, 30)
    assert latest_due(daily, T, datetime(2027, 3, 2, 23)) == datetime(
        2027, 3, 1, 18, 30
    )
    weekly = ScheduleRecurrence(
        "Week", 2, week_days=["Wednesday", "Friday"], time_of_day="07:15"
    )
    assert due(weekly, T) == datetime(2027, 3, 3, 7, 15)
    assert due(weekly, datetime(2027, 3, 5, 8)) == datetime(2027, 3, 17, 7, 15)
    monthly = ScheduleRecurrence("Month", 1)
    assert due(monthly, T) == datetime(2027, 4, 1, 10)
    assert due(monthly, datetime(2027, 12, 15)) == datetime(2028, 1, 1, 10)


def test_start_time_is_the_anchor_and_sets_utc() -> None:
    r = ScheduleRecurrence("Hour", 1, start_time=datetime(2027, 1, 1, 0, 30))
    assert (r.start_time, r.time_zone) == ("2027-01-01T00:30:00", TimeZone.UTC)
    anchor = anchor_of(r, created=T)
    assert due(r, T, anchor) == datetime(2027, 3, 1, 10, 30)
    assert anchor_of(ScheduleRecurrence("Hour", 1), T.replace(microsecond=5)) == T


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"frequency": "Year", "interval": 1}, "frequency must be one of"),
        ({"frequency": "Day", "interval": 0}, "interval must be an int of at least 1"),
        ({"frequency": "Hour", "interval": 1, "hours": [3]}, "only be given for Day"),
        (
            {"frequency": "Day", "interval": 1, "week_days": ["Monday"]},
            "week_days can only be given for Week",
        ),
        (
            {"frequency": "Week", "interval": 1, "week_days": ["Funday"]},
            "'Funday' is not one of",
        ),
        ({"frequency": "Day", "interval": 1, "hours": [24]}, "hours: 24 is not 0-23"),
        ({"frequency": "Day", "interval": 1, "minutes": [60]}, "minutes: 60 is not"),
        (
            {"frequency": "Day", "interval": 1, "time_zone": "PST"},
            "time_zone must be a TimeZone",
        ),
    ],
)
def test_validate_names_the_problem(kwargs: dict[str, object], message: str) -> None:
    recurrence = ScheduleRecurrence(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ScheduleValidationError, match=message):
        recurrence.validate()


def test_constructor_checks() -> None:
    with pytest.raises(ScheduleValidationError, match="Can not specify tzinfo"):
        ScheduleRecurrence("Day", 1, start_time=datetime(2027, 1, 1, tzinfo=UTC))
    with pytest.raises(ScheduleValidationError, match="time_of_day must be 'hh:mm'"):
        ScheduleRecurrence("Day", 1, time_of_day="7am")
    with pytest.raises(ScheduleValidationError, match="cannot be given with hours"):
        ScheduleRecurrence("Day", 1, time_of_day="07:00", hours=[3])
    r = ScheduleRecurrence("Week", 1, time_of_day="7:05")
    assert (r.hours, r.minutes) == ([7], [5])
    assert ScheduleRecurrence.from_json(r.to_json()).to_json() == r.to_json()
