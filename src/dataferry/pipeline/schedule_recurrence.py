"""``ScheduleRecurrence`` and its due times: pure arithmetic, ``now`` passed in.

Times are naive datetimes in UTC. The due times of a recurrence are anchored on its
``start_time`` (else on the schedule's creation): every ``interval`` minutes or hours;
every ``interval`` days, weeks (on ``week_days``) or months, at ``hours`` x
``minutes`` (else at the anchor's time of day).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dataferry.errors import ScheduleValidationError

if TYPE_CHECKING:
    from collections.abc import Iterator

FREQUENCIES = ("Minute", "Hour", "Day", "Week", "Month")
WEEK_DAYS = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


class TimeZone(enum.Enum):
    """Time zones of a recurrence; dataferry evaluates schedules in UTC only."""

    UTC = "UTC"


@dataclass
class ScheduleRecurrence:
    """When a schedule fires (the SDK's ``ScheduleRecurrence``).

    Raises (constructor):
        ScheduleValidationError: ``start_time`` has a tzinfo, or ``time_of_day`` is
            not ``hh:mm`` or comes with ``hours``/``minutes``.
    """

    frequency: str
    interval: int
    start_time: Any = None
    time_zone: Any = None
    hours: list[int] | None = None
    minutes: list[int] | None = None
    week_days: list[str] | None = None
    time_of_day: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.start_time, datetime):
            if self.start_time.tzinfo is not None:
                raise ScheduleValidationError(
                    "Can not specify tzinfo for start_time, use time_zone instead."
                )
            self.start_time = self.start_time.strftime(_TIME_FORMAT)
        if self.start_time is not None and self.time_zone is None:
            self.time_zone = TimeZone.UTC
        if self.time_of_day is not None:
            self._read_time_of_day(self.time_of_day)

    def _read_time_of_day(self, text: str) -> None:
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", str(text))
        if match is None:
            raise ScheduleValidationError(f"time_of_day must be 'hh:mm', not {text!r}")
        if self.hours is not None or self.minutes is not None:
            raise ScheduleValidationError(
                "time_of_day cannot be given with hours or minutes; give one of them"
            )
        self.hours, self.minutes = [int(match[1])], [int(match[2])]

    def validate(self) -> None:
        """Check the recurrence as the SDK does before a schedule is created.

        Raises:
            ScheduleValidationError: the first problem found, named.
        """
        problems = _problems(self)
        if problems:
            raise ScheduleValidationError(
                f"ScheduleRecurrence: {problems[0]}"
                + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
            )

    def to_json(self) -> dict[str, Any]:
        """The recurrence as the catalog stores it."""
        return {
            "frequency": self.frequency,
            "interval": self.interval,
            "start_time": self.start_time,
            "time_zone": None if self.time_zone is None else TimeZone.UTC.value,
            "hours": self.hours,
            "minutes": self.minutes,
            "week_days": self.week_days,
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> ScheduleRecurrence:
        """The recurrence ``to_json`` stored."""
        zone = TimeZone(data["time_zone"]) if data.get("time_zone") else None
        return ScheduleRecurrence(**{**data, "time_zone": zone})


def _problems(r: ScheduleRecurrence) -> list[str]:
    found = []
    if r.frequency not in FREQUENCIES:
        found.append(f"frequency must be one of {FREQUENCIES}, not {r.frequency!r}")
    if (
        not isinstance(r.interval, int)
        or isinstance(r.interval, bool)
        or r.interval < 1
    ):
        found.append(f"interval must be an int of at least 1, not {r.interval!r}")
    if (r.hours or r.minutes) and r.frequency not in ("Day", "Week"):
        found.append("hours and minutes can only be given for Day or Week frequency")
    if r.week_days and r.frequency != "Week":
        found.append("week_days can only be given for Week frequency")
    for day in r.week_days or []:
        if day not in WEEK_DAYS:
            found.append(f"week_days: {day!r} is not one of {WEEK_DAYS}")
    found += [f"hours: {h!r} is not 0-23" for h in r.hours or [] if not _in(h, 23)]
    found += [f"minutes: {m!r} is not 0-59" for m in r.minutes or [] if not _in(m, 59)]
    if r.time_zone is not None and not isinstance(r.time_zone, TimeZone):
        found.append(
            f"time_zone must be a TimeZone (dataferry has TimeZone.UTC), not "
            f"{r.time_zone!r}"
        )
    if isinstance(r.start_time, str):
        try:
            datetime.strptime(r.start_time, _TIME_FORMAT)
        except ValueError:
            found.append(f"start_time {r.start_time!r} is not YYYY-MM-DDThh:mm:ss")
    return found


def _in(value: Any, top: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= top


def anchor_of(r: ScheduleRecurrence, created: datetime) -> datetime:
    """Where the due times start: ``start_time``, else ``created`` (to the second)."""
    if r.start_time is None:
        return created.replace(microsecond=0)
    return datetime.strptime(str(r.start_time), _TIME_FORMAT)


def latest_due(
    r: ScheduleRecurrence, anchor: datetime, now: datetime
) -> datetime | None:
    """The last due time at or before ``now`` (None before the first one)."""
    if now < anchor:
        return None
    if r.frequency in ("Minute", "Hour"):
        step = timedelta(**{f"{r.frequency.lower()}s": r.interval})
        return anchor + ((now - anchor) // step) * step
    for due in _day_times(r, anchor, now, backwards=True):
        if anchor <= due <= now:
            return due
    return None


def next_due(r: ScheduleRecurrence, anchor: datetime, after: datetime) -> datetime:
    """The first due time strictly after ``after``."""
    if r.frequency in ("Minute", "Hour"):
        if after < anchor:
            return anchor
        step = timedelta(**{f"{r.frequency.lower()}s": r.interval})
        return anchor + ((after - anchor) // step + 1) * step
    for due in _day_times(r, anchor, max(after, anchor), backwards=False):
        if due > after and due >= anchor:
            return due
    raise ScheduleValidationError(f"the recurrence {r.to_json()} never falls due")


def _day_times(
    r: ScheduleRecurrence, anchor: datetime, around: datetime, *, backwards: bool
) -> Iterator[datetime]:
    """Due times on the days a Day/Week/Month recurrence fires, walking from the
    day of ``around`` (backwards or forwards) for at most about ``interval`` years."""
    hours = sorted(r.hours or [anchor.hour])
    minutes = sorted(r.minutes or [anchor.minute])
    times = sorted(
        timedelta(
            hours=h, minutes=m, seconds=0 if r.hours or r.minutes else anchor.second
        )
        for h in hours
        for m in minutes
    )
    day = datetime(around.year, around.month, around.day)
    step = timedelta(days=-1 if backwards else 1)
    for _ in range(400 * r.interval):
        if _fires_on(r, anchor, day):
            yield from (day + t for t in (reversed(times) if backwards else times))
        day += step


def _fires_on(r: ScheduleRecurrence, anchor: datetime, day: datetime) -> bool:
    start = datetime(anchor.year, anchor.month, anchor.day)
    if day < start:
        return False
    if r.frequency == "Day":
        return (day - start).days % r.interval == 0
    if r.frequency == "Week":
        monday = start - timedelta(days=start.weekday())
        days = r.week_days or [WEEK_DAYS[anchor.weekday()]]
        weeks = (day - monday).days // 7
        return weeks % r.interval == 0 and WEEK_DAYS[day.weekday()] in days
    months = (day.year - start.year) * 12 + day.month - start.month
    return months % r.interval == 0 and day.day == start.day
