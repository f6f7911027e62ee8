"""The CLI's defaults for Prefect and GX, as Prefect itself reads them in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = (
    "from bureau_stats.cli import _offline_defaults; _offline_defaults();"
    "from prefect.settings import get_current_settings as s; c = s();"
    "print(c.server.ephemeral.startup_timeout_seconds, c.server.analytics_enabled)"
)


def _prefect_sees(**extra: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "GX_"))}
    env.pop("DO_NOT_TRACK", None)
    env.update(extra)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_temporary_server_gets_time_to_start_and_analytics_are_off() -> None:
    # Prefect's own default is 20 s, which a first start on a busy 2-core machine exceeded.
    assert _prefect_sees() == ["120", "False"]


def test_operator_values_win() -> None:
    seen = _prefect_sees(
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="45",
        PREFECT_SERVER_ANALYTICS_ENABLED="true",
    )
    assert seen == ["45", "True"]
