"""``X-PCO-API-Version`` per product: "equal to or less than" matching, as PCO documents.

Asking for 2018-08-14 when 2018-08-10 and 2018-08-17 exist gives 2018-08-10; ``LATEST``
gives the newest; anything before 2018-08-01 (or not a date) is ``400
unsupported_version_error``. The answer carries ``X-PCO-API-Processed-As-Version``.
"""

from __future__ import annotations

import bisect
import re

FIRST_SUPPORTED = "2018-08-01"

VERSIONS: dict[str, list[str]] = {
    "people": [
        "2018-08-01", "2019-01-14", "2019-10-10", "2020-04-06", "2020-07-22", "2021-08-17",
        "2022-01-05", "2022-01-28", "2022-07-14", "2023-02-15", "2023-03-21", "2024-09-12",
        "2025-03-20", "2025-07-02", "2025-07-17", "2025-11-10",
    ],
    "services": ["2018-08-01", "2018-11-01"],
    "webhooks": ["2018-08-01", "2022-10-20"],
}  # fmt: skip

DEFAULT_VERSIONS: dict[str, str] = {
    "people": "2025-11-10",
    "services": "2018-11-01",
    "webhooks": "2022-10-20",
}

# Versions where a rendering changes (spec §4, §7.1).
PEOPLE_FULL_GENDER = "2022-07-14"  # "Male"/"Female" instead of "M"/"F"
PEOPLE_2022 = "2022-07-14"  # Email.blocked, newer where/order lists, Person extras
PEOPLE_STREET_LINES = "2023-03-21"  # Address.street split into street_line_1/2
PEOPLE_2025 = "2025-07-17"  # login_identifier, mfa_configured, ... on Person

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class UnsupportedVersion(ValueError):
    """The requested version is before the first supported one or not a version at all."""


def resolve(product: str, requested: str | None, default: str | None = None) -> str:
    """The version a request for ``requested`` is processed as."""
    known = VERSIONS[product]
    if requested is None or not requested.strip():
        return default or DEFAULT_VERSIONS[product]
    value = requested.strip()
    if value.upper() == "LATEST":
        return known[-1]
    if not _DATE.match(value) or value < FIRST_SUPPORTED:
        raise UnsupportedVersion(value)
    i = bisect.bisect_right(known, value)
    return known[max(i - 1, 0)]
