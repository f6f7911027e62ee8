"""Shared fixtures: the landing areas (generated demo year; the customer's samples when present),
a PII key, and a real PostgreSQL database per test session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import corpora
import pytest
from corpora import Corpus

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# In-process flow tests start Prefect's temporary server too; the CLI gives it the same time.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

REPO = Path(__file__).resolve().parents[1]
# The customer's sample exports: BUREAU_STATS_SAMPLES, else ../shared/samples beside the clone.
# A clone elsewhere has none: the tests that read them are then deselected (never skipped).
SAMPLES = Path(
    os.environ.get("BUREAU_STATS_SAMPLES")
    or Path(os.environ.get("BUREAU_STATS_SHARED", REPO.parent / "shared")) / "samples"
)
SAMPLE_FIXTURES = {"samples_dir", "landing_samples", "spec_dir"}
PG_ADMIN_URL = os.environ.get(
    "BUREAU_STATS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TEST_PII_KEY = "test-pii-key"


def samples_present() -> bool:
    return (SAMPLES / "landing").is_dir()


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The customer's samples (tests using it run only where they exist)."""
    return SAMPLES


@pytest.fixture(scope="session")
def landing_samples() -> Path:
    return SAMPLES / "landing"


@pytest.fixture(scope="session")
def spec_dir() -> Path:
    """The customer's contract beside the samples (shared/spec)."""
    return SAMPLES.parent / "spec"


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The demo generator's small year (fixed seed), made once per session: read-only."""
    return corpora.demo_corpus(tmp_path_factory.mktemp("demo-corpus") / "landing")


@pytest.fixture(scope="session")
def demo_landing(demo_corpus: Corpus) -> Path:
    """A landing area of every source; tests copy from it, never write into it."""
    return demo_corpus.landing


@pytest.fixture(
    scope="session", params=["demo", pytest.param("samples", marks=pytest.mark.samples)]
)
def corpus(request: pytest.FixtureRequest) -> Corpus:
    """Each landing area an acceptance test runs over: always the demo, the samples if present."""
    if request.param == "samples":
        return corpora.samples_corpus(SAMPLES)
    return request.getfixturevalue("demo_corpus")  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _pii_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUREAU_STATS_PII_KEY", TEST_PII_KEY)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards.

    PostgreSQL must be running (`.ci/run` starts it); an unreachable server is an error,
    never a skip.
    """
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    name = f"bureau_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture()
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'warehouse.db'}"


# --- soak tests: `make soak` (pytest -m soak --runslow); deselected (not skipped) otherwise.
# They restart the shared PostgreSQL server or run for minutes. `slow` tests still run in CI.


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "samples: reads the customer's samples (../shared/samples or BUREAU_STATS_SAMPLES); "
        "deselected where they are absent",
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runslow", action="store_true", default=False, help="also run tests marked soak"
    )


def _needs_samples(item: pytest.Item) -> bool:
    fixtures = set(getattr(item, "fixturenames", ()))
    return bool(item.get_closest_marker("samples") or fixtures & SAMPLE_FIXTURES)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (never skip) soak tests without --runslow, sample tests without the samples."""
    drop = []
    if not config.getoption("--runslow"):
        drop += [item for item in items if item.get_closest_marker("soak")]
    if not samples_present():
        drop += [item for item in items if _needs_samples(item)]
    if drop:
        config.hook.pytest_deselected(items=drop)
        gone = set(map(id, drop))
        items[:] = [item for item in items if id(item) not in gone]
