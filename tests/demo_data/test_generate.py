"""The generated landing area: names, bytes, encodings, sheet shapes and quirks."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from connectors.sources import SOURCES
from demo_data import DEFAULT_SEED, generate
from demo_data.codes import resident_id_valid, uscc_valid

Demo = tuple[Path, dict[str, Any]]
PERIOD = re.compile(
    r"^(?P<src>[a-z_]+)/(?P<stem>[^/_]+)_(?P<a>\d{8})-(?P<b>\d{8})(?:_v(?P<v>\d+))?\.(?P<ext>\w+)$"
)
MONTHLY = re.compile(r"^ip_stats/知识产权统计月报_(?P<m>\d{6})(?:_v(?P<v>\d+))?\.csv$")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _on_disk(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}


def _text(root: Path, rel: str, encoding: str) -> str:
    return (root / rel).read_bytes().decode(encoding)


def test_layout_and_names_follow_the_contract(demo_year: Demo) -> None:
    root, summary = demo_year
    files = _on_disk(root)
    assert set(files) == {f["path"] for f in summary["files"]}  # nothing else, no *.part
    per_source: Counter[str] = Counter()
    for rel in files:
        src = rel.split("/")[0]
        per_source[src] += 1
        if src == "ip_stats":
            assert MONTHLY.match(rel), rel
            continue
        if src == "manual":  # the offices' yearly workbook (demo_data/manual.py)
            assert rel == "manual/手工填报指标_2024.xlsx", rel
            continue
        m = PERIOD.match(rel)
        assert m, rel
        assert m["stem"] == SOURCES[src].file_stem and m["ext"] == SOURCES[src].extension
        start = datetime.strptime(m["a"], "%Y%m%d")
        end = datetime.strptime(m["b"], "%Y%m%d")
        assert start.day == 1 and (end + timedelta(days=1)).day == 1 and start <= end
    # Monthly sources, one _v2 correction each for registration (March) and cases (June),
    # quarterly ip_cases, half-yearly ip_pledge, 24 months of statistics + a re-issued October.
    assert per_source == {
        "registration": 13,
        "food_license": 12,
        "special_equipment": 12,
        "medical_device": 12,
        "cases": 13,
        "inspections": 12,
        "ip_stats": 25,
        "ip_cases": 4,
        "ip_pledge": 2,
        "manual": 1,
    }
    assert "registration/经营主体登记业务明细_20240301-20240331_v2.csv" in files
    assert "ip_stats/知识产权统计月报_202310.csv" in files  # the year-on-year base
    # A district's year: about 60,000 source rows, most of them registration.
    assert 55_000 < summary["rows_total"] < 75_000
    assert summary["sources"]["registration"]["rows_current"] > summary["rows_total"] / 2


def test_same_seed_same_bytes(demo_year: Demo, tmp_path: Path) -> None:
    root, summary = demo_year
    again = generate(2024, tmp_path, seed=DEFAULT_SEED)
    assert [f["sha256"] for f in again["files"]] == [f["sha256"] for f in summary["files"]]
    for rel, path in _on_disk(tmp_path).items():
        assert _sha(path) == _sha(root / rel), rel


def test_another_seed_other_rows_same_figures(demo_year: Demo, tmp_path: Path) -> None:
    root, summary = demo_year
    row_sources = [
        "food_license",
        "special_equipment",
        "medical_device",
        "cases",
        "inspections",
        "ip_cases",
        "ip_pledge",
    ]
    other = generate(2024, tmp_path, seed=DEFAULT_SEED + 1, sources=row_sources)
    for f in other["files"]:
        assert f["sha256"] != _sha(root / f["path"]), f["path"]
    # The seed changes names, codes and spellings, never the figures.
    assert other["expected_metrics"] == summary["expected_metrics"]


def test_scale_multiplies_rows(demo_year: Demo, tmp_path: Path) -> None:
    _, summary = demo_year
    half = generate(2024, tmp_path, scale=0.5)
    assert not half["calibrated"] and summary["calibrated"]
    for code, s in summary["sources"].items():
        if code in ("ip_stats", "manual"):  # one row per region / per figure, at any scale
            continue
        assert half["sources"][code]["rows_current"] == pytest.approx(
            s["rows_current"] / 2,
            rel=0.06,
            abs=6,  # half-up rounding per cell
        ), code


def test_encodings(demo_year: Demo) -> None:
    root, summary = demo_year
    for f in summary["files"]:
        rel, raw = f["path"], (root / f["path"]).read_bytes()
        src = f["source"]
        bom = raw.startswith(b"\xef\xbb\xbf")
        month = int(f["period_start"][5:7])
        if src == "registration":
            old_system = month <= 3 and not (month == 3 and f["version"] == 2)
            assert bom == old_system, rel
            if not old_system:
                with pytest.raises(UnicodeDecodeError):
                    raw.decode("utf-8")
                assert raw.decode("gb18030").startswith("业务流水号,"), rel
        elif src in ("inspections", "ip_cases"):
            assert not bom and raw.decode("gb18030").startswith(SOURCES[src].columns[0].header)
        elif src == "medical_device":
            assert bom == (month not in (5, 10)), rel
            raw.decode("utf-8")
        elif src == "ip_stats":
            raw.decode("utf-8-sig")
        if SOURCES[src].format == "csv":
            text = raw.decode(
                "utf-8-sig" if src in ("medical_device", "ip_stats") or bom else "gb18030"
            )
            assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", ""), rel


def test_registration_quirks(demo_year: Demo) -> None:
    root, summary = demo_year
    text = "".join(
        _text(
            root,
            f["path"],
            "utf-8-sig" if int(f["period_start"][5:7]) <= 3 and f["version"] == 1 else "gb18030",
        )
        for f in summary["files"]
        if f["source"] == "registration"
    )
    for spelling in (
        r",2024-\d\d-\d\d,",
        r",2024/\d{1,2}/\d{1,2},",
        r",2024\.\d\d\.\d\d,",
        r",2024\d{4},",
        r",2024年\d{1,2}月\d{1,2}日,",
        r",2024-\d\d-\d\d \d\d:\d\d,",
        r",2024-\d\d-\d\d \d\d:\d\d:\d\d,",
        r",２０２４-[０-９]{2}-[０-９]{2},",
        r",2023-12-\d\d",  # applied in December, approved in January
    ):
        assert re.search(spelling, text), spelling
    for channel in ("网上办理", "全程网办", "网办", "窗口办理", "现场办理", "窗口"):
        assert f",{channel}," in text, channel
    assert "\u3000," in text  # trailing full-width space
    assert re.search(r",[０-９Ａ-Ｚ]{18},", text)  # full-width USCC
    assert "\r\n\r\n" in text  # blank lines
    codes = re.findall(r"^DJ\d+,([0-9A-Z]{18}),", text, flags=re.M)
    assert len(codes) > 40_000
    assert sum(uscc_valid(c) for c in codes) >= len(codes) - 10  # only the planned bad ones


def test_food_license_workbook(demo_year: Demo) -> None:
    root, summary = demo_year
    f = next(x for x in summary["files"] if x["source"] == "food_license")
    wb = openpyxl.load_workbook(root / f["path"])
    assert wb.sheetnames == ["办件明细"]
    ws = wb["办件明细"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "食品经营许可办件明细表" and "A1:H1" in {
        str(r) for r in ws.merged_cells.ranges
    }
    assert rows[1][0] == "导出时间:2024-02-01 02:00:00  统计区间:2024-01-01至2024-01-31"
    assert list(rows[2]) == [c.header for c in SOURCES["food_license"].columns]
    assert rows[-1][0] == f"合计:{f['rows_read']}条"
    dates = [r[6] for r in rows[3:-1] if r[0]]
    assert any(isinstance(d, datetime) for d in dates) and any(isinstance(d, str) for d in dates)
    # Fixed creation date: the export time, not the moment the generator ran.
    assert wb.properties.created == datetime(2024, 2, 1, 2, 0)


def test_cases_and_pledge_workbooks(demo_year: Demo) -> None:
    root, summary = demo_year
    persons = units = ending_x = ending_lower_x = 0
    for f in summary["files"]:
        if f["source"] != "cases" or f["superseded"]:
            continue
        ws = openpyxl.load_workbook(root / f["path"])["案件列表"]
        rows = list(ws.iter_rows(values_only=True))
        assert list(rows[0]) == [c.header for c in SOURCES["cases"].columns]
        invalid = 0
        for r in rows[1:]:
            if not r[0] or str(r[0]).startswith("总计"):
                continue
            party_type = r[12]
            party_id = unicodedata.normalize("NFKC", str(r[14])).strip()
            if party_type == "个人":
                persons += 1
                invalid += not resident_id_valid(party_id)
                ending_x += party_id.endswith("X")
                ending_lower_x += party_id.endswith("x")
            else:
                units += 1
                invalid += not uscc_valid(party_id)
        # Only the planned bad_check_digit row is invalid.
        assert invalid == ("bad_check_digit" in f["reject_reasons"]), f["path"]
    assert persons > 150 and units > 500 and ending_x >= 2 and ending_lower_x >= 1
    pledge = [f for f in summary["files"] if f["source"] == "ip_pledge"]
    amounts = []
    for f in pledge:
        ws = openpyxl.load_workbook(root / f["path"])["质押登记"]
        amounts += [r[5] for r in ws.iter_rows(min_row=2, values_only=True) if r[0]]
    assert any(isinstance(a, float) for a in amounts)
    assert any(isinstance(a, str) and "," in a for a in amounts)


def test_special_equipment_json(demo_year: Demo) -> None:
    root, summary = demo_year
    crossing = missing_key = 0
    for f in summary["files"]:
        if f["source"] != "special_equipment":
            continue
        doc = json.loads((root / f["path"]).read_text("utf-8"))
        assert doc["total"] == len(doc["records"]) == f["rows_read"]
        assert doc["exportTime"].endswith("T02:00:00+08:00")
        for r in doc["records"]:
            missing_key += "approveDate" not in r
            ms = r.get("approveDate") or r["applyDate"]
            utc = datetime.fromtimestamp(ms / 1000, UTC)
            crossing += utc.date() != (utc + timedelta(hours=8)).date()
    assert crossing > 20 and missing_key > 0
    jan = json.loads(
        (root / "special_equipment/特种设备使用登记_20240101-20240131.json").read_text("utf-8")
    )
    new_year = [
        r
        for r in jan["records"]
        if r.get("approveDate")
        and datetime.fromtimestamp(r["approveDate"] / 1000, UTC).year == 2023
    ]
    assert new_year  # approved on 2024-01-01 local time, still 2023 in UTC


def test_inspection_codes(demo_year: Demo) -> None:
    root, summary = demo_year
    lines = [
        line.split(",")
        for f in summary["files"]
        if f["source"] == "inspections"
        for line in _text(root, f["path"], "gb18030").splitlines()[1:]
        if line
    ]
    non_market = {row[2].strip()[:2] for row in lines if row[4] == "否"}
    assert {"12", "51"} <= non_market
    tasks = {row[7] for row in lines if row[6] == "双随机抽查"}
    assert any(t.startswith("ＳＳＪ") or re.search("[０-９]", t) for t in tasks)  # full-width
