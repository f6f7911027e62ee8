"""Fixtures of the metric tests: a tiny warehouse per test on SQLite and on PostgreSQL.

The PostgreSQL warehouse lives in its own schema of the session database (`search_path` in
the URL), so these hand-made tables never meet the migrated tables of other test modules.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from tiny_warehouse import open_tiny, pg_schema_url

PG_SCHEMA = "metrics_tests"


@pytest.fixture(scope="session")
def pg_metrics_url(pg_url: str) -> str:
    return pg_schema_url(pg_url, PG_SCHEMA)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    return str(request.getfixturevalue("pg_metrics_url"))


@pytest.fixture()
def tiny(backend_url: str) -> Iterator[Engine]:
    """An empty hand-made warehouse on each backend."""
    engine = open_tiny(backend_url)
    yield engine
    engine.dispose()


@pytest.fixture()
def tiny_sqlite(sqlite_url: str) -> Iterator[Engine]:
    engine = open_tiny(sqlite_url)
    yield engine
    engine.dispose()
