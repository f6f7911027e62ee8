"""Secrets come from the environment and are never logged or written: a distinctive PII key
and a PostgreSQL URL with a password, through every command an operator runs (the in-process
run, the Prefect flow in ephemeral mode, status, rejects, metrics, report, an unreachable
server), then a search of stdout, stderr and every file written (Data Docs, reports, Prefect's
home with its database, logs and results)."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy.engine import make_url

from tests.faults.fault_helpers import (
    cli,
    copy_landing,
    drop_schema,
    generate_year,
    pg_schema_url,
    run_env,
)

pytestmark = [pytest.mark.postgres, pytest.mark.prefect, pytest.mark.slow]


def _forms(secret: str) -> list[bytes]:
    """The secret as it could appear: plain, URL-quoted, UTF-16 (a Windows log), hex."""
    return [
        secret.encode(),
        quote(secret, safe="").encode(),
        secret.encode("utf-16-le"),
        secret.encode().hex().encode(),
    ]


def test_secrets_never_appear_in_output_or_files(pg_url: str, tmp_path: Path) -> None:
    pii_key = "pii-key-" + uuid.uuid4().hex  # distinctive: never a substring by chance
    password = "pw-" + uuid.uuid4().hex
    year = generate_year(tmp_path / "year")
    landing = tmp_path / "landing"
    copy_landing(year, landing, until=date(2024, 6, 30))
    base, schema = pg_schema_url(pg_url)
    url = make_url(base).set(password=password).render_as_string(hide_password=False)
    assert password in url
    var = tmp_path / "var"
    env = run_env(var, url, landing, BUREAU_STATS_PII_KEY=pii_key)
    outputs: list[str] = []
    try:
        for args in (
            ["run", "--in-process"],  # Data Docs too
            ["status", "--json"],
            ["metrics", "--year", "2024", "--json"],
            ["report", "--year", "2024", "--out", str(var / "reports")],
        ):
            done = cli(args, env)
            assert done.returncode == 0, (args, done.stderr[-2000:])
            outputs += [done.stdout, done.stderr]
        copy_landing(year, landing)  # the second half of the year, by the Prefect flow
        done = cli(["run", "--flow"], env)
        assert done.returncode == 0, done.stderr[-3000:]
        outputs += [done.stdout, done.stderr]
        done = cli(["rejects", "经营主体登记业务明细_20240801-20240831.csv", "--json"], env)
        outputs += [done.stdout, done.stderr]
        # A server that is not there: the error names the URL, never the password.
        down = make_url(url).set(port=1).render_as_string(hide_password=False)
        done = cli(["status", "--warehouse", down], env)
        assert done.returncode == 2
        outputs += [done.stdout, done.stderr]
    finally:
        drop_schema(pg_url, schema)

    written = [p for p in tmp_path.rglob("*") if p.is_file() and landing not in p.parents]
    assert any(p.suffix == ".json" for p in written)  # validation results were written
    assert any("prefect" in p.parts for p in written)  # Prefect's home was written
    for secret in (pii_key, password):
        for text in outputs:
            assert secret not in text
        for path in written:
            data = path.read_bytes()
            for form in _forms(secret):
                assert form not in data, f"{secret[:6]}… found in {path.relative_to(tmp_path)}"
