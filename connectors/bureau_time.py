"""The bureau's time zone, defined once: dates and local times are Asia/Shanghai everywhere."""

from __future__ import annotations

from datetime import timedelta, timezone, tzinfo

BUREAU_TZ_NAME = "Asia/Shanghai"

BUREAU_TZ: tzinfo
try:
    from zoneinfo import ZoneInfo

    BUREAU_TZ = ZoneInfo(BUREAU_TZ_NAME)
except Exception:  # no tz database on the host: China has no DST, a fixed offset is exact
    BUREAU_TZ = timezone(timedelta(hours=8), BUREAU_TZ_NAME)
