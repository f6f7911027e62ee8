"""The connector's rules, one small inline export per rule of shared/spec/sources.md."""

from __future__ import annotations

import json

import pytest

from tests.connectors.conftest import REG_HEADER, RESIDENT_ID, USCC, csv_bytes, reg_row


def test_gb18030_and_utf8_bom_and_plain_utf8_are_detected(extract) -> None:
    rows = [reg_row("DJ1"), reg_row("DJ2")]
    for data in (
        csv_bytes(REG_HEADER, rows, "gb18030"),
        csv_bytes(REG_HEADER, rows, "utf-8", bom=True),
        csv_bytes(REG_HEADER, rows, "utf-8"),
    ):
        batch = extract("registration", data)
        assert batch.verdict == "readable"
        assert batch.accepted_frame()["entity_name"].tolist() == ["甲公司", "甲公司"]


def _header(source: str) -> str:
    from connectors.sources import SOURCES

    return ",".join(c.header for c in SOURCES[source].columns)


@pytest.mark.parametrize(
    ("source", "encoding", "bom"),
    [
        ("ip_cases", "utf-8", True),  # GB18030 exports
        ("ip_cases", "utf-8", False),
        ("inspections", "utf-8", True),
        ("medical_device", "gb18030", False),  # UTF-8 exports
        ("ip_stats", "gb18030", False),
    ],
)
def test_an_encoding_the_contract_does_not_name_for_the_source_is_quarantined(
    extract, source: str, encoding: str, bom: bool
) -> None:
    batch = extract(source, csv_bytes(_header(source), ["x"], encoding, bom=bom))
    assert (batch.verdict, batch.reason) == ("quarantine", "encoding")
    assert "exports are" in (batch.detail or "")


@pytest.mark.parametrize(
    ("source", "encoding", "bom"),
    [
        ("ip_cases", "gb18030", False),
        ("inspections", "gb18030", False),
        ("medical_device", "utf-8", True),
        ("medical_device", "utf-8", False),  # "accept it without the BOM too"
        ("ip_stats", "utf-8", False),
        ("ip_stats", "utf-8", True),
    ],
)
def test_the_encodings_the_contract_names_are_read(
    extract, source: str, encoding: str, bom: bool
) -> None:
    batch = extract(source, csv_bytes(_header(source), [], encoding, bom=bom))
    assert batch.reason == "empty"  # read as far as its rows: a header alone


def test_the_whole_file_reader_checks_the_declared_encoding_too() -> None:
    from connectors.csv_reader import csv_grid
    from connectors.raw_table import FileRejected
    from connectors.sources import SOURCES

    data = csv_bytes(_header("ip_cases"), ["a,b"], "utf-8")
    with pytest.raises(FileRejected) as err:
        csv_grid(data, SOURCES["ip_cases"])
    assert err.value.reason == "encoding"
    assert not csv_grid(csv_bytes(_header("ip_cases"), ["a,b"]), SOURCES["ip_cases"]).empty


def test_undecodable_bytes_quarantine_with_encoding(extract) -> None:
    data = csv_bytes(REG_HEADER, [reg_row()], "utf-8") + b"\xff\xfe\xfa\x81\x30\n"
    batch = extract("registration", data)
    assert (batch.verdict, batch.reason) == ("quarantine", "encoding")
    assert batch.rows_read == 0


def test_empty_file_and_header_only_are_empty(extract) -> None:
    assert extract("registration", b"").reason == "empty"
    assert extract("registration", csv_bytes(REG_HEADER, [])).reason == "empty"


def test_missing_column_quarantines(extract) -> None:
    header = REG_HEADER.replace(",所属镇街", "")
    row = reg_row().rsplit(",", 1)[0]
    batch = extract("registration", csv_bytes(header, [row]))
    assert (batch.verdict, batch.reason) == ("quarantine", "missing_column")
    assert "所属镇街" in (batch.detail or "")


def test_wrong_extension_is_a_clear_verdict(extract) -> None:
    batch = extract("registration", csv_bytes(REG_HEADER, [reg_row()]), ext="xlsx")
    assert (batch.verdict, batch.reason) == ("quarantine", "unreadable")


def test_blank_lines_and_footer_are_not_rows(extract) -> None:
    data = csv_bytes(REG_HEADER, [reg_row("DJ1"), "", ",,,,,,,,,", reg_row("DJ2"), "合计:2条"])
    batch = extract("registration", data)
    assert batch.rows_read == 2 and batch.rows_accepted == 2


def test_synonyms_map_to_the_closed_set(extract) -> None:
    rows = [
        reg_row("DJ1", channel="全程网办"),
        reg_row("DJ2", channel="窗口"),
        reg_row("DJ3", channel="现场办理"),
    ]
    batch = extract("registration", csv_bytes(REG_HEADER, rows))
    assert batch.accepted_frame()["channel"].tolist() == ["网上办理", "窗口办理", "窗口办理"]


def test_value_outside_the_closed_set_is_bad_enum(extract) -> None:
    rows = [reg_row("DJ1"), reg_row("DJ2", kind="设立")] + [reg_row(f"DJ{i}") for i in range(3, 30)]
    batch = extract("registration", csv_bytes(REG_HEADER, rows))
    assert batch.rejects[["line", "reason", "column"]].values.tolist() == [
        [3, "bad_enum", "业务类型"]
    ]


def test_bad_uscc_check_digit_is_rejected(extract) -> None:
    wrong = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")
    rows = [reg_row("DJ1", uscc=wrong)] + [reg_row(f"DJ{i}") for i in range(2, 30)]
    batch = extract("registration", csv_bytes(REG_HEADER, rows))
    assert batch.rejects["reason"].tolist() == ["bad_check_digit"]


def test_approval_before_application_is_a_rule_violation(extract) -> None:
    rows = [reg_row("DJ1", applied="2024-01-20", approved="2024-01-05")] + [
        reg_row(f"DJ{i}") for i in range(2, 30)
    ]
    batch = extract("registration", csv_bytes(REG_HEADER, rows))
    assert batch.rejects["reason"].tolist() == ["rule_violation"]


def test_row_outside_declared_period_is_rejected(extract) -> None:
    rows = [reg_row("DJ1", approved="2024-02-01")] + [reg_row(f"DJ{i}") for i in range(2, 30)]
    batch = extract("registration", csv_bytes(REG_HEADER, rows))
    assert batch.rejects["reason"].tolist() == ["out_of_period"]


def test_exact_duplicates_equal_after_value_rules_count_once(extract) -> None:
    rows = [
        reg_row("DJ1", applied="2024/1/2", channel="网办"),
        reg_row("DJ1", applied="2024-01-02", channel="网上办理"),
        reg_row("DJ1", applied="２０２４年1月2日", channel="全程网办"),
        reg_row("DJ2"),
    ]
    batch = extract("registration", csv_bytes(REG_HEADER, rows))
    assert (batch.rows_read, batch.rows_accepted, batch.rows_duplicate) == (4, 2, 2)
    assert batch.accounting_closes


def test_same_key_different_values_rejects_all_of_them(extract) -> None:
    rows = [reg_row("DJ1", name="甲公司"), reg_row("DJ1", name="乙公司")] + [
        reg_row(f"DJ{i}") for i in range(2, 50)
    ]
    batch = extract("registration", csv_bytes(REG_HEADER, rows))
    assert batch.rejects["reason"].tolist() == ["conflicting_key", "conflicting_key"]
    assert "DJ1" not in batch.accepted_frame()["txn_id"].tolist()


def test_reject_share_above_threshold_quarantines_with_accounting(extract) -> None:
    rows = [reg_row("DJ1", kind="bogus")] + [reg_row(f"DJ{i}") for i in range(2, 11)]
    batch = extract("registration", csv_bytes(REG_HEADER, rows))
    assert (batch.verdict, batch.reason) == ("quarantine", "reject_share")
    assert (batch.rows_read, batch.rows_accepted, batch.rows_rejected) == (10, 9, 1)
    assert (
        extract("registration", csv_bytes(REG_HEADER, rows), threshold="0.2").verdict == "readable"
    )


def test_formula_in_a_name_is_kept_as_text(extract) -> None:
    rows = [reg_row("DJ1", name="=cmd|' /C calc'!A0")]
    batch = extract("registration", csv_bytes(REG_HEADER, rows))
    assert batch.accepted_frame()["entity_name"].tolist() == ["=cmd|' /C calc'!A0"]


SE_KEYS = [
    "regNo",
    "equipCode",
    "equipCategory",
    "useUnit",
    "unitCount",
    "approvalStatus",
    "applyDate",
    "approveDate",
]


def se_record(
    reg: str,
    status: str = "核准",
    apply_ms: int = 1704067200000,
    approve_ms: int | None = 1704153600000,
    units: object = 2,
) -> dict:
    return {
        "regNo": reg,
        "equipCode": "E1",
        "equipCategory": "电梯",
        "useUnit": "甲单位",
        "unitCount": units,
        "approvalStatus": status,
        "applyDate": apply_ms,
        "approveDate": approve_ms,
    }


def se_bytes(records: list[dict], total: object = None) -> bytes:
    doc = {
        "exportTime": "2024-02-01T02:00:00+08:00",
        "region": "x",
        "total": len(records) if total is None else total,
        "records": records,
    }
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def test_json_total_mismatch_is_truncated(extract) -> None:
    batch = extract("special_equipment", se_bytes([se_record("A")], total=2))
    assert (batch.verdict, batch.reason) == ("quarantine", "truncated")


@pytest.mark.parametrize("total", [2.0, "2", " 2 "])
def test_json_total_written_as_a_whole_float_or_text_is_read(extract, total: object) -> None:
    batch = extract("special_equipment", se_bytes([se_record("A"), se_record("B")], total=total))
    assert batch.verdict == "readable" and batch.rows_read == 2


@pytest.mark.parametrize("total", [2.5, "2件", True, None, "٢"])
def test_json_total_that_is_no_whole_number_is_truncated(extract, total: object) -> None:
    data = json.loads(se_bytes([se_record("A"), se_record("B")]))
    data["total"] = total
    batch = extract("special_equipment", json.dumps(data, ensure_ascii=False).encode())
    assert (batch.verdict, batch.reason) == ("quarantine", "truncated")


def test_json_cut_off_is_truncated(extract) -> None:
    data = se_bytes([se_record("A"), se_record("B")])
    batch = extract("special_equipment", data[: len(data) // 2])
    assert (batch.verdict, batch.reason) == ("quarantine", "truncated")


def test_json_epoch_dates_and_null_decision_partition_by_application(extract) -> None:
    # 2023-12-31T17:30Z is 2024-01-01 in Shanghai: inside the January period.
    records = [
        se_record("A", apply_ms=1704043800000, approve_ms=1704043800000),
        se_record("B", status="受理", apply_ms=1704153600000, approve_ms=None),
    ]
    batch = extract("special_equipment", se_bytes(records))
    assert batch.rows_accepted == 2
    assert [d.isoformat() for d in batch.accepted_frame()["partition_date"]] == [
        "2024-01-01",
        "2024-01-02",
    ]


def test_out_of_period_names_the_column_the_partition_date_came_from(extract) -> None:
    # 2023-12-30 in Shanghai: before the January period. A pending record (no decision) is
    # partitioned by its application date, so that is the column to name.
    records = [
        se_record("A", status="受理", apply_ms=1703894400000, approve_ms=None),
        se_record("B", apply_ms=1703894400000, approve_ms=1703894400000),
    ] + [se_record(f"R{i}") for i in range(40)]
    batch = extract("special_equipment", se_bytes(records))
    rejected = batch.rejects.set_index("line")
    assert rejected["reason"].tolist() == ["out_of_period", "out_of_period"]
    assert rejected["column"].tolist() == ["applyDate", "approveDate"]


def test_json_decision_required_when_approved_and_forbidden_when_pending(extract) -> None:
    records = [se_record("A", approve_ms=None), se_record("B", status="审核")] + [
        se_record(f"R{i}") for i in range(40)
    ]
    batch = extract("special_equipment", se_bytes(records))
    assert batch.rejects["reason"].tolist() == ["missing_required", "rule_violation"]


def test_json_key_missing_from_one_record_is_blank_and_from_all_is_missing_column(extract) -> None:
    r = se_record("A")
    del r["useUnit"]
    batch = extract("special_equipment", se_bytes([r] + [se_record(f"R{i}") for i in range(40)]))
    assert batch.rejects["reason"].tolist() == ["missing_required"]
    records = [se_record("A"), se_record("B")]
    for rec in records:
        del rec["useUnit"]
    assert extract("special_equipment", se_bytes(records)).reason == "missing_column"


CASES_HEADER = "案件编号,案件名称,案件类别,立案日期,结案日期,案件状态,程序类型,处罚裁量,罚没金额(元),是否移送公安,承办机构,专项行动,当事人类型,当事人名称,当事人证件号码"


def case_row(
    no: str,
    party_type: str = "个人",
    name: str = "张三丰",
    pid: str = RESIDENT_ID,
    penalty: str = "1,000.50",
) -> str:
    return f'{no},{name}销售过期食品案,食品,2024-01-03,2024-01-20,已结案,一般程序,一般,"{penalty}",否,所,,{party_type},{name},{pid}'


def _cases_xlsx(rows: list[str]) -> bytes:
    import csv
    import io

    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    sheet = book.add_worksheet("案件列表")
    for r, line in enumerate([CASES_HEADER, *rows]):
        for c, cell in enumerate(next(csv.reader([line]))):
            sheet.write_string(r, c, cell)
    book.close()
    return buf.getvalue()


def test_natural_person_is_masked_and_hashed_everywhere(extract) -> None:
    rows = [case_row("C1"), case_row("C2", pid=RESIDENT_ID[:-1] + "0")]
    rows += [case_row(f"C{i}", party_type="单位", name="甲公司", pid=USCC) for i in range(3, 30)]
    batch = extract("cases", _cases_xlsx(rows))
    person = batch.accepted_frame()[batch.accepted_frame()["party_type"] == "个人"].iloc[0]
    assert person["party_name"] == "张**"
    assert person["title"] == "张**销售过期食品案"
    assert len(person["party_id"]) == 64 and RESIDENT_ID not in person["party_id"]
    company = batch.accepted_frame()[batch.accepted_frame()["party_type"] == "单位"].iloc[0]
    assert company["party_id"] == USCC and company["party_name"] == "甲公司"
    # The rejected row (bad check digit) is masked and hashed too.
    assert batch.rejects["reason"].tolist() == ["bad_check_digit"]
    raw = batch.rejects["raw"].iloc[0]
    assert "张三丰" not in raw and RESIDENT_ID[:-1] not in raw


@pytest.mark.parametrize("typed", [" 张三丰", "张三丰\u3000", "\u3000张三丰 "])
def test_a_padded_name_is_masked_in_a_rejected_row_too(extract, typed: str) -> None:
    # The name cell carries spaces the value rules strip; the title holds the bare name.
    bad_id = RESIDENT_ID[:-1] + "0"
    row = case_row("C1", pid=bad_id).replace(",张三丰,", f",{typed},")
    rows = [row] + [
        case_row(f"C{i}", party_type="单位", name="甲公司", pid=USCC) for i in range(2, 30)
    ]
    batch = extract("cases", _cases_xlsx(rows))
    assert batch.rejects["reason"].tolist() == ["bad_check_digit"]
    raw = json.loads(batch.rejects["raw"].iloc[0])
    assert "三丰" not in batch.rejects["raw"].iloc[0]
    assert raw["案件名称"] == "张**销售过期食品案"
    assert raw["当事人名称"] == "张**"


def test_a_full_width_latin_name_is_masked_in_a_rejected_row(extract) -> None:
    row = case_row("C1", name="Ｊｏｈｎ", pid=RESIDENT_ID[:-1] + "0")
    rows = [row] + [
        case_row(f"C{i}", party_type="单位", name="甲公司", pid=USCC) for i in range(2, 30)
    ]
    batch = extract("cases", _cases_xlsx(rows))
    raw = json.loads(batch.rejects["raw"].iloc[0])
    assert (
        "ｏｈｎ" not in batch.rejects["raw"].iloc[0] and "ohn" not in batch.rejects["raw"].iloc[0]
    )
    assert raw["当事人名称"] == "J***"


def test_a_name_typed_another_way_in_the_title_is_masked_in_a_rejected_row(extract) -> None:
    row = case_row("C1", name="赵A华", pid=RESIDENT_ID[:-1] + "0")
    row = row.replace("赵A华销售", "赵Ａ华销售")  # full-width Ａ in the title only
    rows = [row] + [
        case_row(f"C{i}", party_type="单位", name="甲公司", pid=USCC) for i in range(2, 30)
    ]
    batch = extract("cases", _cases_xlsx(rows))
    raw = json.loads(batch.rejects["raw"].iloc[0])
    assert raw["案件名称"] == "赵**销售过期食品案"
    assert raw["当事人名称"] == "赵**"


def test_a_resident_id_typed_into_free_text_is_hashed_in_accepted_rows(extract) -> None:
    other_id = "44070319880909890X"
    row = case_row("C1").replace(
        "张三丰销售过期食品案", f"张三丰（身份证{other_id}）销售过期食品案"
    )
    row = row.replace(",所,", f",联系人证件{other_id},")  # 承办机构
    rows = [row] + [
        case_row(f"C{i}", party_type="单位", name="甲公司", pid=USCC) for i in range(2, 30)
    ]
    batch = extract("cases", _cases_xlsx(rows))
    assert batch.rows_accepted == 29
    frame = batch.accepted_frame().set_index("case_no")
    person = frame.loc["C1"]
    assert other_id not in person["title"] and other_id not in person["handling_unit"]
    assert person["title"].startswith("张**（身份证hmac:")
    assert person["handling_unit"].startswith("联系人证件hmac:")
    # Company codes and keys are not free text: left as they are.
    assert frame.loc["C2", "party_id"] == USCC


def test_a_final_lower_case_x_reads_as_x_for_a_person_only(extract) -> None:
    # Both end in a valid check character X: a resident ID and an all-digit USCC.
    person_id, company_id = "44070319900101005X", "91440703000000005X"
    rows = [
        case_row("C1", pid=person_id.lower()),
        case_row("C2", party_type="单位", name="甲公司", pid=company_id.lower()),
    ]
    rows += [case_row(f"C{i}", party_type="单位", name="甲公司", pid=USCC) for i in range(3, 30)]
    batch = extract("cases", _cases_xlsx(rows))
    accepted = batch.accepted_frame().set_index("case_no")
    assert "C1" in accepted.index  # the person's `x` read as `X`, then hashed
    assert batch.rejects["reason"].tolist() == ["bad_check_digit"]  # the company's `x`
    assert company_id not in accepted["party_id"].tolist()


def test_amount_is_exact_decimal_and_blank_amount_is_zero(extract) -> None:
    from decimal import Decimal

    rows = [
        case_row("C1", party_type="单位", name="甲公司", pid=USCC, penalty="12,500.10"),
        case_row("C2", party_type="单位", name="甲公司", pid=USCC, penalty=""),
    ]
    batch = extract("cases", _cases_xlsx(rows))
    assert batch.accepted_frame()["penalty_yuan"].tolist() == [Decimal("12500.10"), Decimal("0")]


def test_amount_with_more_decimal_places_than_kept_rejects_the_row_not_the_file(extract) -> None:
    unit = {"party_type": "单位", "name": "甲公司", "pid": USCC}
    rows = [case_row("C1", **unit, penalty="1,000.123456")]
    rows += [case_row(f"C{i}", **unit, penalty="1,000.1234") for i in range(2, 30)]
    batch = extract("cases", _cases_xlsx(rows))
    assert batch.verdict == "readable"
    assert batch.rejects["reason"].tolist() == ["bad_number"]
    assert batch.rows_accepted == 28 and batch.accounting_closes


def test_ip_stats_invention_above_total_is_rejected_and_quarantines_the_month(extract) -> None:
    header = "统计月份,地区,专利授权量(本年累计),发明专利授权量(本年累计),有效发明专利量(期末),商标有效注册量(期末),地理标志证明商标(期末)"
    rows = ["2024年1月,蓬江区,83,16,1654,31132,2", "2024-1,江海区,40,41,660,12456,1"]
    from datetime import date

    batch = extract("ip_stats", csv_bytes(header, rows, "utf-8", bom=True), end=date(2024, 1, 31))
    assert batch.rejects["reason"].tolist() == ["rule_violation"]
    assert (batch.verdict, batch.reason) == ("quarantine", "reject_share")


@pytest.mark.parametrize(
    "source", ["registration", "inspections", "ip_cases", "medical_device", "ip_stats"]
)
def test_garbage_never_raises(extract, source: str) -> None:
    for data in (b"\x00\x01\x02", b"a,b\n1,2\n", "只有一行".encode("gb18030"), b"\n\n\n"):
        batch = extract(source, data)
        assert batch.verdict == "quarantine"
        assert batch.accounting_closes
