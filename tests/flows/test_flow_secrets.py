"""Secrets from Prefect Secret blocks, for real: blocks saved on the session's Prefect test
harness, a nightly run reading the PII key and the PostgreSQL URL (with a password) from them,
then a search of the run's logs, artifacts, states, parameters and persisted results, and of
every file the run wrote, for both values."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from corpora import Corpus
from flow_helpers import TEST_PII_KEY, artifacts_of, new_workdir

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


def _name(what: str) -> str:
    return f"test-{what}-{uuid.uuid4().hex[:8]}"


@pytest.fixture()
def no_env_secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from tasks.context import dispose_engines
    from tasks.secret_blocks import forget_secret_blocks, install

    for name in ("PII_KEY", "PII_KEY_BLOCK", "WAREHOUSE_URL", "WAREHOUSE_URL_BLOCK"):
        monkeypatch.delenv(f"BUREAU_STATS_{name}", raising=False)
    forget_secret_blocks()
    install()  # what a command or flow run does when it starts
    yield
    dispose_engines()
    forget_secret_blocks()


def _forms(secret: str) -> list[str]:
    """The secret as it could appear: plain, URL-quoted, hex (text searched as latin-1)."""
    return [secret, quote(secret, safe=""), secret.encode().hex()]


def _run_texts(flow_run_id: str) -> list[str]:
    """What Prefect keeps of a flow run: logs, artifacts, states, parameters, task runs."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)  # logs are sent in batches: all of this run's first
    texts = [str(a.data) + str(a.description) for a in artifacts_of(flow_run_id).values()]
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        )
        run = client.read_flow_run(uuid.UUID(flow_run_id))
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(flow_run_id)]))
        )
    texts += [log.message for log in logs]
    texts += [run.model_dump_json()] + [t.model_dump_json() for t in tasks]
    return texts


def _schema_ddl(pg_url: str, statement: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(statement))
    admin.dispose()


# --- loading blocks ---------------------------------------------------------------------------


def test_a_block_is_read_once_per_flow_run_and_fresh_when_a_run_starts(
    prefect_harness: None, no_env_secrets: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.blocks.system import Secret

    from bureau_stats.settings import load_settings
    from tasks.secret_blocks import load_secret_block

    block = _name("pii-key")
    Secret(value="first-value").save(block)
    monkeypatch.setenv("BUREAU_STATS_PII_KEY_BLOCK", block)
    settings = load_settings()
    assert settings.pii_key_bytes() == b"first-value"
    assert "first-value" not in repr(settings) and block in repr(settings)
    assert repr(load_secret_block(block, variable="X")) == "SecretStr('**********')"

    Secret(value="rotated-value").save(block, overwrite=True)
    assert settings.pii_key_bytes() == b"first-value"  # loaded once (per process and run)
    notes = settings.resolve_secrets()  # what a flow run does when it starts
    assert notes == [(20, f"BUREAU_STATS_PII_KEY: from the Prefect Secret block {block!r}")]
    assert load_settings().pii_key_bytes() == b"rotated-value"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "does not exist on the Prefect server at http"),
        ({"user": "u", "password": "p-4c1d"}, "holds a dict, not a string"),
        ("", "is empty"),
    ],
)
def test_an_unusable_block_is_a_clear_error_naming_it(
    prefect_harness: None,
    no_env_secrets: None,
    monkeypatch: pytest.MonkeyPatch,
    value: Any,
    problem: str,
) -> None:
    from prefect.blocks.system import Secret

    from bureau_stats.settings import MissingSettingError, load_settings

    block = _name("warehouse-url")
    if value is not None:
        Secret(value=value).save(block)
    monkeypatch.setenv("BUREAU_STATS_WAREHOUSE_URL_BLOCK", block)
    with pytest.raises(MissingSettingError) as caught:
        load_settings().resolved_warehouse_url()
    message = str(caught.value)
    assert message.startswith(
        f"BUREAU_STATS_WAREHOUSE_URL_BLOCK names the Prefect Secret block {block!r}, which "
    ), message
    assert problem in message and "p-4c1d" not in message


# --- flows ------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_nightly_reads_its_secrets_from_blocks_and_never_shows_them(
    flow_landing: Path,
    prefect_harness: None,
    no_env_secrets: None,
    pg_url: str,
    flow_corpus: Corpus,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PII key and PostgreSQL URL (with a password) only in Prefect Secret blocks."""
    from prefect.blocks.system import Secret
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH
    from sqlalchemy import select
    from sqlalchemy.engine import make_url

    import tasks.secret_blocks as settings_module
    from connectors.personal_data import hash_identifier
    from flows.nightly import nightly
    from tasks.context import dispose_engines, settings_for, warehouse
    from warehouse.schema import source_table

    pii_key = "pii-key-" + uuid.uuid4().hex  # distinctive: never a substring by chance
    password = "pw-" + uuid.uuid4().hex
    schema = f"s_{uuid.uuid4().hex[:12]}"
    _schema_ddl(pg_url, f'CREATE SCHEMA "{schema}"')
    base = f"{pg_url}?options=-csearch_path%3D{schema}"
    url = make_url(base).set(password=password).render_as_string(hide_password=False)
    key_block, url_block = _name("pii-key"), _name("warehouse-url")
    Secret(value=pii_key).save(key_block)
    Secret(value=url).save(url_block)

    w = new_workdir(flow_landing, tmp_path / "w", ("cases",))
    for f in sorted((w.landing / "cases").iterdir())[2:]:
        f.unlink()  # January and February are enough
    for k, v in w.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("BUREAU_STATS_PII_KEY")
    monkeypatch.delenv("BUREAU_STATS_WAREHOUSE_URL")
    monkeypatch.setenv("BUREAU_STATS_PII_KEY_BLOCK", key_block)
    monkeypatch.setenv("BUREAU_STATS_WAREHOUSE_URL_BLOCK", url_block)
    fetched: list[str] = []
    real_fetch = settings_module._fetch_secret_block

    def fetch(block: str, *args: Any) -> Any:  # counts the loads
        fetched.append(block)
        return real_fetch(block, *args)

    monkeypatch.setattr(settings_module, "_fetch_secret_block", fetch)
    try:
        state = nightly(refresh=False, return_state=True)
        # loaded once when the run started; its tasks (threads of this process) reused them
        assert sorted(fetched) == sorted([key_block, url_block])
        result = state.result(raise_on_failure=False)
        assert state.is_completed(), state.message
        assert [o.status for o in result.outcomes] == ["published", "published"]
        assert not _warehouse_opened(w)  # PostgreSQL it was
        # identity numbers were hashed with the block's key
        with warehouse(settings_for()).connect() as conn:
            cases = source_table("cases")
            stored = set(
                conn.execute(select(cases.c.party_id).where(cases.c.party_type == "个人")).scalars()
            )
        flow_run_id = str(state.state_details.flow_run_id)
        texts = _run_texts(flow_run_id)
    finally:
        dispose_engines()
        _schema_ddl(pg_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    logs = "\n".join(texts)
    assert f"BUREAU_STATS_PII_KEY: from the Prefect Secret block {key_block!r}" in logs
    assert f"BUREAU_STATS_WAREHOUSE_URL: from the Prefect Secret block {url_block!r}" in logs
    storage = Path(PREFECT_LOCAL_STORAGE_PATH.value())
    written = [p for p in [*storage.rglob("*"), *w.var.rglob("*")] if p.is_file()]
    assert any(p.suffix == ".json" for p in w.var.rglob("*"))  # validation results were written
    texts += [p.read_bytes().decode("latin-1") for p in written]
    texts += [p.read_bytes().decode("utf-16-le", errors="ignore") for p in written]
    blob = "\n".join(texts)
    for secret in (pii_key, password):
        for form in _forms(secret):
            assert form not in blob, f"{secret[:6]}… found"
    ids = flow_corpus.person_ids
    assert stored & {hash_identifier(i, pii_key.encode()) for i in ids}
    assert not stored & {hash_identifier(i, TEST_PII_KEY.encode()) for i in ids}


@pytest.fixture()
def keyless(
    flow_landing: Path,
    prefect_harness: None,
    no_env_secrets: None,
    tmp_path: Path,
    use_workdir: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """A small work folder, and no BUREAU_STATS_PII_KEY in the environment."""
    w = use_workdir(new_workdir(flow_landing, tmp_path / "w", ("ip_pledge",)))
    monkeypatch.delenv("BUREAU_STATS_PII_KEY")
    return w


def _warehouse_opened(w: Any) -> bool:
    return Path(w.warehouse_url.removeprefix("sqlite:///")).exists()


def test_a_missing_block_fails_the_run_before_it_touches_anything(
    keyless: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.nightly import nightly

    block = _name("nowhere")
    monkeypatch.setenv("BUREAU_STATS_PII_KEY_BLOCK", block)
    state = nightly(return_state=True)
    assert state.is_failed()
    assert f"BUREAU_STATS_PII_KEY_BLOCK names the Prefect Secret block {block!r}" in state.message
    assert "does not exist" in state.message
    assert not _warehouse_opened(keyless)


def test_a_run_without_any_pii_key_refuses_to_start(keyless: Any) -> None:
    from flows.backfill import backfill
    from flows.nightly import nightly

    state = nightly(return_state=True)
    assert state.is_failed() and "BUREAU_STATS_PII_KEY is not set" in state.message
    assert not _warehouse_opened(keyless)
    # a dry run hashes nothing: it needs no key
    plan = backfill(start=date(2024, 1, 1), end=date(2024, 12, 31), dry_run=True)
    assert [f.action for f in plan.files] == ["publish", "publish"]


def test_the_environment_wins_and_the_run_says_so(
    flow_landing: Path,
    prefect_harness: None,
    tmp_path: Path,
    use_workdir: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The block named does not exist: the run completes because it is not read."""
    from flows.backfill import backfill

    use_workdir(new_workdir(flow_landing, tmp_path / "w", ("ip_pledge",)))
    block = _name("unused")
    monkeypatch.setenv("BUREAU_STATS_PII_KEY_BLOCK", block)
    state = backfill(
        start=date(2024, 1, 1), end=date(2024, 12, 31), dry_run=True, return_state=True
    )
    assert state.is_completed(), state.message
    logs = "\n".join(_run_texts(str(state.state_details.flow_run_id)))
    assert (
        "BUREAU_STATS_PII_KEY and BUREAU_STATS_PII_KEY_BLOCK are both set: BUREAU_STATS_PII_KEY "
        f"is used, the Prefect Secret block {block!r} is not read"
    ) in logs
    assert TEST_PII_KEY not in logs
