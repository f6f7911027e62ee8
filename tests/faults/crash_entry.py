"""The `bureau-stats` command with a crash probe installed: the process dies like a SIGKILL
(`os._exit`, no rollback, no cleanup) when the publisher reaches the named point.

    python tests/faults/crash_entry.py POINT [bureau-stats arguments...]

The probe is injected into `warehouse.publish` here, by the test harness; the publish code
never reads the environment for it.
"""

from __future__ import annotations

import logging
import os
import sys

CRASH_EXIT = 86  # what a killed publisher exits with


def install(point: str) -> None:
    """Make this process die at `point` (one of `warehouse.publish.CRASH_POINTS`)."""
    from warehouse import publish

    if point not in publish.CRASH_POINTS:
        raise SystemExit(f"unknown crash point {point!r}: one of {publish.CRASH_POINTS}")

    def probe(reached: str) -> None:
        if reached == point:
            logging.shutdown()
            os._exit(CRASH_EXIT)

    publish.probe = probe


if __name__ == "__main__":
    install(sys.argv[1])
    sys.argv = ["bureau-stats", *sys.argv[2:]]
    from bureau_stats.cli import main

    main()
