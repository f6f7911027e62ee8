"""Issue 25 items 3, 5, 6 at the command line: names and cells shown escaped, one PII key per
warehouse (and its rotation), configuration errors in one line, quarantine details shown."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from pathlib import Path

import pytest
import xlsxwriter
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

import bureau_stats.cli.ingest  # noqa: F401  (registers the commands)
import bureau_stats.cli.operate  # noqa: F401
import bureau_stats.cli.security  # noqa: F401
from bureau_stats.cli.app import app
from tests.cli.test_ingest import warehouse  # noqa: F401  (sqlite and postgres)
from tests.connectors.conftest import REG_HEADER, RESIDENT_ID, USCC, csv_bytes, reg_row

REG = "registration/经营主体登记业务明细_20240101-20240131.csv"
CASES_HEADER = [
    "案件编号", "案件名称", "案件类别", "立案日期", "结案日期", "案件状态", "程序类型", "处罚裁量",
    "罚没金额(元)", "是否移送公安", "承办机构", "专项行动", "当事人类型", "当事人名称", "当事人证件号码",
]  # fmt: skip


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


@pytest.fixture()
def landing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "landing"
    (root / "registration").mkdir(parents=True)
    monkeypatch.setenv("BUREAU_STATS_VAR_DIR", str(tmp_path / "var"))
    return root


def _cases(path: Path, month: int, person_name: str) -> None:
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    sheet = book.add_worksheet("案件列表")
    rows = [CASES_HEADER]
    day = f"2024-{month:02d}-03"
    for i in range(30):
        person = i == 0
        rows.append(
            [
                f"C{month}-{i}", f"{person_name if person else '甲公司'}销售过期食品案", "食品", day,
                "", "调查中", "一般程序", "", "0", "否", "所", "", "个人" if person else "单位",
                person_name if person else "甲公司", RESIDENT_ID if person else USCC,
            ]
        )  # fmt: skip
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            sheet.write_string(r, c, cell)
    book.close()
    last = {1: 31, 2: 29}[month]
    path.mkdir(parents=True, exist_ok=True)
    (path / f"行政处罚案件_2024{month:02d}01-2024{month:02d}{last}.xlsx").write_bytes(
        buf.getvalue()
    )


def test_names_and_cells_are_shown_escaped(landing: Path, tmp_path: Path) -> None:
    rows = [reg_row(f"DJ{i}") for i in range(30)]
    rows[1] = reg_row("DJ1", name="[/x][bold]甲\x1b[2J", approved="2024-13-01")  # rejected
    (landing / REG).write_bytes(csv_bytes(REG_HEADER, rows))
    (landing / "registration[/x]").mkdir(parents=True)  # folders `registration[` / `x]`
    (landing / "registration[/x]" / "a.csv").write_bytes(b"x")
    draft = "registration/经营主体登记业务明细[draft]_20240201-20240229.csv"
    (landing / draft).write_bytes(b"x")
    (landing / "registration" / "x\x1b[2J.csv").write_bytes(b"x")
    url = f"sqlite:///{tmp_path / 'w.db'}"
    code, out, err = invoke("run", "--landing", str(landing), "--warehouse", url, "--no-docs")
    assert code == 0, err
    assert f"ignored {draft}:" in out  # not shown as the correctly named file
    assert "registration/x\\x1b[2J.csv" in out and "\x1b" not in out
    assert "ignored registration[/x]/a.csv" in out
    code, out, err = invoke("rejects", REG, "--warehouse", url)
    assert code == 0, err
    assert "[/x][bold]甲\\x1b[2J" in out and "\x1b" not in out


def test_quarantine_detail_is_shown_by_run_status_and_rejects(
    landing: Path, tmp_path: Path
) -> None:
    bad = landing / "cases" / "行政处罚案件_20240101-20240131.xlsx"
    bad.parent.mkdir()
    bad.write_bytes(b"PK\x03\x04 not a zip")
    url = f"sqlite:///{tmp_path / 'w.db'}"
    code, run_out, _ = invoke("run", "--landing", str(landing), "--warehouse", url, "--no-docs")
    assert code == 1
    code, out, _ = invoke("status", "--json", "--warehouse", url)
    entry = json.loads(out)["batches"][0]
    assert entry["reason"] == "unreadable" and "XLSX" in entry["detail"]
    shown = f"unreadable: {entry['detail']}"
    assert shown in run_out
    code, out, _ = invoke("status", "--warehouse", url)
    assert shown in out
    code, out, _ = invoke(
        "rejects", "cases/行政处罚案件_20240101-20240131.xlsx", "--warehouse", url
    )
    assert f"is quarantined: {shown}" in out


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({"BUREAU_STATS_REJECT_THRESHOLD": "-1"}, (), "BUREAU_STATS_REJECT_THRESHOLD"),
        ({"BUREAU_STATS_REJECT_THRESHOLD": "1.5"}, (), "BUREAU_STATS_REJECT_THRESHOLD"),
        ({}, ("--landing", "nosuchprotocol://bucket/landing"), "protocol"),
        ({}, ("--warehouse", "sqlite:///{not_a_db}"), "cannot open warehouse"),
    ],
)
def test_configuration_errors_are_one_line_and_exit_2(
    landing: Path, tmp_path: Path, env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("this is not a database\n" * 100)
    argv = ["run", "--no-docs", *(a.format(not_a_db=not_a_db) for a in args)]
    if "--landing" not in argv:
        argv += ["--landing", str(landing)]
    if "--warehouse" not in argv:
        argv += ["--warehouse", f"sqlite:///{tmp_path / 'w.db'}"]
    code, out, err = invoke(*argv, env=env)
    assert (code, out) == (2, "")
    assert message in one_error_line(err)


def test_backfill_with_the_default_landing_missing_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default landing var/landing does not exist here
    monkeypatch.setenv("BUREAU_STATS_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    code, out, err = invoke("backfill", "--start", "2024-01-01", "--end", "2024-12-31")
    assert code == 2
    assert "landing area" in one_error_line(err)


def _fingerprint(key: str) -> str:
    return hmac.new(key.encode(), b"bureau-stats pii key fingerprint", hashlib.sha256).hexdigest()


def _person_hashes(url: str) -> set[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT party_id FROM cases WHERE party_type = '个人'")).all()
    engine.dispose()
    return {r[0] for r in rows}


def test_one_pii_key_per_warehouse_and_its_rotation(
    landing: Path,
    warehouse: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = warehouse
    _cases(landing / "cases", 1, "张三丰")
    monkeypatch.setenv("BUREAU_STATS_PII_KEY", "old-key")
    code, _, err = invoke("run", "--landing", str(landing), "--warehouse", url, "--no-docs")
    assert code == 0, err
    old_hash = hmac.new(b"old-key", RESIDENT_ID.encode(), hashlib.sha256).hexdigest()
    new_hash = hmac.new(b"new-key", RESIDENT_ID.encode(), hashlib.sha256).hexdigest()
    assert _person_hashes(url) == {old_hash}

    # Another key: refused in one line, nothing touched.
    monkeypatch.setenv("BUREAU_STATS_PII_KEY", "new-key")
    code, out, err = invoke("run", "--landing", str(landing), "--warehouse", url, "--no-docs")
    assert (code, out) == (2, "")
    assert "rotate-pii-key" in one_error_line(err)

    monkeypatch.setenv("OLD_KEY", "old-key")
    monkeypatch.setenv("NEW_KEY", "new-key")
    rotate = ("rotate-pii-key", "--old-key-env", "OLD_KEY", "--new-key-env", "NEW_KEY")
    where = ("--landing", str(landing), "--warehouse", url)
    code, out, err = invoke(*rotate, "--dry-run", *where)
    assert code == 0, err
    assert "would re-hash 1 " in out
    assert _person_hashes(url) == {old_hash}  # a dry run changes nothing

    code, out, err = invoke(*rotate, *where)
    assert code == 0, err
    assert _person_hashes(url) == {new_hash}
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT fingerprint FROM pii_key")).scalar() == _fingerprint(
            "new-key"
        )
    engine.dispose()

    # The new key runs; a new delivery links the same person with the same hash.
    _cases(landing / "cases", 2, "张三丰")
    code, _, err = invoke("run", "--landing", str(landing), "--warehouse", url, "--no-docs")
    assert code == 0, err
    assert _person_hashes(url) == {new_hash}

    # Rotating again from the old key is refused: it is no longer the warehouse's.
    code, _, err = invoke(*rotate, *where)
    assert code == 2 and "already uses the new key" in one_error_line(err)


def test_rotation_refuses_when_a_delivered_file_is_gone(
    landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    _cases(landing / "cases", 1, "张三丰")
    monkeypatch.setenv("BUREAU_STATS_PII_KEY", "old-key")
    assert invoke("run", "--landing", str(landing), "--warehouse", url, "--no-docs")[0] == 0
    next((landing / "cases").iterdir()).unlink()
    monkeypatch.setenv("OLD_KEY", "old-key")
    monkeypatch.setenv("NEW_KEY", "new-key")
    code, _, err = invoke(
        "rotate-pii-key", "--old-key-env", "OLD_KEY", "--new-key-env", "NEW_KEY",
        "--landing", str(landing), "--warehouse", url,
    )  # fmt: skip
    assert code == 2 and "no longer in the landing area" in one_error_line(err)
    old_hash = hmac.new(b"old-key", RESIDENT_ID.encode(), hashlib.sha256).hexdigest()
    assert _person_hashes(url) == {old_hash}
