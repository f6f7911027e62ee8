"""Security tests run on both warehouses where it matters (fresh SQLite file, fresh PG schema)."""

from __future__ import annotations

from tests.faults.fault_helpers import warehouse_url

__all__ = ["warehouse_url"]  # the fixture, shared with the fault tests
