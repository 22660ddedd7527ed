"""Durations as people write them in a workload: `30s 15m 4h 3d 2w 7y` or ISO-8601 (`PT15M`)."""

from __future__ import annotations

import re

SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
"""Seconds per unit. A year is 365 days: retention law counts whole years, never leap seconds."""

_SHORT = re.compile(r"(\d+)([smhdwy])")
_ISO = re.compile(
    r"P(?!$)(?:(?P<y>\d+)Y)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?"
)

EXPECTED = "a duration such as 30s, 15m, 4h, 3d, 2w, 7y or ISO-8601 PT15M"


def parse_duration(text: str) -> int:
    """Seconds in `text`; raise `ValueError` with the accepted forms when it is not a duration."""
    cleaned = text.strip()
    short = _SHORT.fullmatch(cleaned)
    if short:
        return int(short.group(1)) * SECONDS[short.group(2)]
    iso = _ISO.fullmatch(cleaned.upper())
    if iso and cleaned.upper() != "PT":
        parts = iso.groupdict().items()
        return sum(int(value) * SECONDS[unit] for unit, value in parts if value)
    if re.fullmatch(r"P(?:\d+Y)?\d+M.*", cleaned.upper()) or cleaned.lower().endswith("mo"):
        raise ValueError("months have no fixed length; write days (30d) or years (1y) instead")
    raise ValueError(f"expected {EXPECTED}, got {text!r}")


def format_duration(seconds: int) -> str:
    """The shortest exact short form: 86400 -> `1d`, 5400 -> `90m`."""
    if seconds == 0:
        return "0s"
    for unit in ("y", "w", "d", "h", "m"):
        if seconds % SECONDS[unit] == 0:
            return f"{seconds // SECONDS[unit]}{unit}"
    return f"{seconds}s"


def format_estimate(seconds: int) -> str:
    """A rounded, readable duration for estimates: 90 -> `1m30s`, 20000 -> `5h33m`."""
    if seconds < 120:
        return f"{seconds}s" if seconds < 60 else f"1m{seconds - 60}s".replace("m0s", "m")
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"
