"""The settings object: secrets from the environment or named Prefect Secret blocks.

What needs no Prefect server is here (the block loader installed as a command installs it); loading real blocks (and the flows doing it) is in
tests/flows/test_flow_secrets.py, on the session's Prefect test harness.
"""

from __future__ import annotations

import logging

import pytest

from bureau_stats.settings import (
    MissingSettingError,
    SecretBlockError,
    env_name,
    load_settings,
    use_block_loader,
)
from tasks.secret_blocks import forget_secret_blocks, install

KEY = "settings-test-key-0f5c"
PASSWORD = "settings-test-pw-7d1e"
URL = f"postgresql+psycopg://owner:{PASSWORD}@db.example/bureau"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PII_KEY", "PII_KEY_BLOCK", "WAREHOUSE_URL", "WAREHOUSE_URL_BLOCK"):
        monkeypatch.delenv(f"BUREAU_STATS_{name}", raising=False)
    forget_secret_blocks()
    install()


def test_secrets_from_the_environment_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUREAU_STATS_PII_KEY", KEY)
    monkeypatch.setenv("BUREAU_STATS_WAREHOUSE_URL", URL)
    settings = load_settings()
    assert settings.pii_key_bytes() == KEY.encode()
    assert settings.resolved_warehouse_url() == URL
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert KEY not in text and PASSWORD not in text
    assert settings.resolve_secrets() == []  # nothing to load, nothing to say


def test_an_override_is_a_secret_too() -> None:
    settings = load_settings(warehouse_url=URL)
    assert settings.resolved_warehouse_url() == URL and PASSWORD not in repr(settings)


def test_defaults_without_any_secret() -> None:
    settings = load_settings(var_dir="v")
    assert settings.resolved_warehouse_url() == "sqlite:///v/warehouse.db"
    assert settings.pii_key_bytes(allow_development_key=True)
    with pytest.raises(MissingSettingError, match="BUREAU_STATS_PII_KEY_BLOCK"):
        settings.pii_key_bytes()


def test_the_environment_wins_over_a_block_which_is_then_not_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No Prefect API is reachable here: reading the block would fail."""
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("BUREAU_STATS_PII_KEY", KEY)
    monkeypatch.setenv("BUREAU_STATS_PII_KEY_BLOCK", "bureau-stats-pii-key")
    settings = load_settings()
    assert settings.pii_key_bytes() == KEY.encode()
    [(level, message)] = settings.resolve_secrets()
    assert level == logging.WARNING
    assert "BUREAU_STATS_PII_KEY and BUREAU_STATS_PII_KEY_BLOCK are both set" in message
    assert "'bureau-stats-pii-key' is not read" in message and KEY not in message


def test_an_unreachable_prefect_api_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    monkeypatch.setenv("BUREAU_STATS_WAREHOUSE_URL_BLOCK", "bureau-stats-warehouse-url")
    api = "http://prefect-user:prefect-pw@127.0.0.1:9/api"  # nothing listens on port 9
    with temporary_settings(updates={PREFECT_API_URL: api, PREFECT_CLIENT_MAX_RETRIES: 0}):
        settings = load_settings()
        with pytest.raises(SecretBlockError) as caught:
            settings.resolved_warehouse_url()
    message = str(caught.value)
    assert message.startswith(
        "BUREAU_STATS_WAREHOUSE_URL_BLOCK names the Prefect Secret block "
        "'bureau-stats-warehouse-url', which could not be read: no answer on the Prefect "
        "server at http://127.0.0.1:9/api"
    ), message
    assert "prefect-pw" not in message  # the API URL is shown without its credentials
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert isinstance(caught.value, MissingSettingError)  # the CLI's exit code 2


def test_env_names() -> None:
    assert env_name("pii_key_block") == "BUREAU_STATS_PII_KEY_BLOCK"


def test_the_settings_module_never_imports_prefect() -> None:
    """Layers point one way: reading Secret blocks is the tasks layer's (tasks.secret_blocks)."""
    import subprocess
    import sys

    code = (
        "import sys, bureau_stats.settings as s; s.load_settings().resolved_warehouse_url(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_named_block_without_a_loader_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUREAU_STATS_PII_KEY_BLOCK", "bureau-stats-pii-key")
    use_block_loader(None)
    with pytest.raises(SecretBlockError, match="BUREAU_STATS_PII_KEY_BLOCK names the Prefect"):
        load_settings().pii_key_bytes()
