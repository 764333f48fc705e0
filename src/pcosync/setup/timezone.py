"""Choosing Rock's organisation time zone, which Rock's v1 API does not publish.

Rock writes every date-time in its organisation's zone without an offset (spec rock-api §5),
so pcosync must be told the zone. Evidence, best first: ``--time-zone``; the campuses'
``TimeZoneId`` when they all name the same zone; Planning Center's organisation zone (the
same church); the default. When init has just created an attribute, its
``CreatedDateTime`` (Rock's local clock) against the response's ``Date`` (UTC) gives
Rock's current UTC offset, which confirms or contradicts the choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIME_ZONE = "America/Chicago"

# Rock runs on .NET/Windows, whose zone ids differ from the IANA names pcosync uses.
WINDOWS_ZONES = {
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "US Mountain Standard Time": "America/Phoenix",
    "Pacific Standard Time": "America/Los_Angeles",
    "Alaskan Standard Time": "America/Anchorage",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Atlantic Standard Time": "America/Halifax",
    "Newfoundland Standard Time": "America/St_Johns",
    "Canada Central Standard Time": "America/Regina",
    "Mexico Standard Time": "America/Mexico_City",
    "Central Standard Time (Mexico)": "America/Mexico_City",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "South Africa Standard Time": "Africa/Johannesburg",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "E. Australia Standard Time": "Australia/Brisbane",
    "Cen. Australia Standard Time": "Australia/Adelaide",
    "W. Australia Standard Time": "Australia/Perth",
    "New Zealand Standard Time": "Pacific/Auckland",
    "UTC": "UTC",
}


def iana_zone(value: str | None) -> str | None:
    """An IANA zone name for a Windows or IANA zone id; None when unknown."""
    if not value:
        return None
    value = value.strip()
    if value in WINDOWS_ZONES:
        return WINDOWS_ZONES[value]
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return value


def is_valid_zone(value: str) -> bool:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def rock_utc_offset(local_naive: datetime, server_utc: datetime) -> timedelta | None:
    """Rock's UTC offset from a timestamp it just wrote in local time and its ``Date``.

    Rounded to 15 minutes; None when the two are too far from a whole quarter hour apart
    (the record was not written just now) or the offset is impossible.
    """
    diff = local_naive - server_utc.replace(tzinfo=None)
    quarter = timedelta(minutes=15)
    rounded = quarter * round(diff / quarter)
    if abs(diff - rounded) > timedelta(minutes=5) or abs(rounded) > timedelta(hours=14):
        return None
    return rounded


def format_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class TimeZoneChoice:
    zone: str
    source: str
    warning: str | None = None


def choose_time_zone(
    *,
    explicit: str | None,
    explicit_source: str = "given with --time-zone",
    rock_campus_zones: Iterable[str],
    pco_zone: str | None,
    rock_offset: timedelta | None,
    now: datetime,
    default: str = DEFAULT_TIME_ZONE,
) -> TimeZoneChoice:
    campus_zones = {z for z in (iana_zone(v) for v in rock_campus_zones) if z}
    rock_zone = next(iter(campus_zones)) if len(campus_zones) == 1 else None
    pco = iana_zone(pco_zone)
    problems: list[str] = []
    if explicit:
        zone, source = explicit, explicit_source
        if rock_zone and rock_zone != explicit:
            problems.append(f"Rock's campuses say {rock_zone}")
    elif rock_zone:
        zone, source = rock_zone, "read from Rock's campus settings"
    elif pco:
        zone = pco
        source = (
            "taken from Planning Center's organisation settings (Rock does not publish its "
            "own over its API)"
        )
    else:
        zone = default
        source = "the default (Rock does not publish its time zone over its API)"
    if rock_offset is not None:
        expected = ZoneInfo(zone).utcoffset(now)
        if expected is not None and expected != rock_offset:
            problems.append(
                f"Rock's clock reads {format_offset(rock_offset)} but {zone} is "
                f"{format_offset(expected)} now"
            )
        else:
            source += f"; Rock's clock agrees ({format_offset(rock_offset)})"
    if problems:
        return TimeZoneChoice(
            zone,
            source,
            "; ".join(problems)
            + ". Set rock.time_zone in the config file to the zone in Rock's Admin Tools › "
            "Settings › General Settings.",
        )
    return TimeZoneChoice(zone, source)
