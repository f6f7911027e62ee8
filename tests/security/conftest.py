"""Security tests run on both warehouses where it matters (fresh SQLite file, fresh PG schema)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.fault_helpers import drop_schema, pg_schema_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
        return
    base = request.getfixturevalue("pg_url")
    url, schema = pg_schema_url(base)
    try:
        yield url
    finally:
        drop_schema(base, schema)
