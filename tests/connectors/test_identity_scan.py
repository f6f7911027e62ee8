"""Identity numbers found wherever they are (rule 7, issue 25 item 4): every text cell of
every source, accepted and rejected rows alike; never a valid USCC or a contract code."""

from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest
import xlsxwriter

from connectors.personal_data import find_resident_ids, scrub_resident_ids, scrub_resident_ids_in
from tests.connectors.conftest import KEY, REG_HEADER, RESIDENT_ID, USCC, csv_bytes, reg_row
from tests.connectors.test_extract import _cases_xlsx, case_row

ALL_DIGIT_USCC = "91440703000000005X"  # valid check character, all digits and X


def _everything(batch) -> str:  # noqa: ANN001
    frame = batch.accepted_frame().astype(str).to_csv()
    return frame + "\n".join(batch.rejects["raw"].tolist())


@pytest.mark.parametrize(
    "text, found",
    [
        (f"ID{RESIDENT_ID}abc", RESIDENT_ID),  # glued to Latin letters
        (f"9{RESIDENT_ID}9", f"9{RESIDENT_ID}9"),  # inside a longer run of digits
        (f"编号{RESIDENT_ID[:-1]}2X", f"{RESIDENT_ID[:-1]}2"),  # 19 digits: a typo
        ("证件440703900101001号", "440703900101001"),  # an old 15-digit number
        (f"x{RESIDENT_ID[:-1]}", RESIDENT_ID[:-1]),  # 17 digits
        (
            "４４０７０３１９９００１０１００１７",
            "４４０７０３１９９００１０１００１７",
        ),  # full-width
    ],
)
def test_resident_id_shapes_are_found(text: str, found: str) -> None:
    spans = find_resident_ids(text)
    assert [text[a:b] for a, b in spans][0].startswith(found)
    assert found not in scrub_resident_ids(text, KEY)
    assert re.search(r"hmac:[0-9a-f]{16}", scrub_resident_ids(text, KEY))


@pytest.mark.parametrize("text", [USCC, ALL_DIGIT_USCC, "JY12345678901234", "DJ20240100001"])
def test_codes_of_the_contract_are_not_identity_numbers(text: str) -> None:
    assert find_resident_ids(text) == []
    assert find_resident_ids(f"代码 {text} 。") == []


def test_the_column_scan_leaves_cells_without_candidates_untouched() -> None:
    cells = pd.Series(["甲公司", None, f"乙{RESIDENT_ID}", ALL_DIGIT_USCC], dtype=object)
    out, found = scrub_resident_ids_in(cells, KEY)
    assert found.tolist() == [False, False, True, False]
    assert out[0] == "甲公司" and out[1] is None and out[3] == ALL_DIGIT_USCC
    assert RESIDENT_ID not in out[2]


def test_an_id_in_a_source_without_natural_persons_is_hashed(extract) -> None:
    rows = [reg_row(f"DJ{i}") for i in range(30)]
    rows[3] = reg_row("DJ3", name=f"张三{RESIDENT_ID}")  # registration's 主体名称
    rows[4] = reg_row("DJ4", name=f"个体户{RESIDENT_ID[:-1]}12", approved="2024-13-01")  # rejected
    batch = extract("registration", csv_bytes(REG_HEADER, rows))
    assert batch.rows_accepted == 29 and batch.rows_rejected == 1
    everything = _everything(batch)
    assert RESIDENT_ID[:-1] not in everything
    assert "hmac:" in batch.rejects["raw"].iloc[0]
    # The USCC of every row is a code, not an identity number: kept.
    assert set(batch.accepted_frame()["uscc"]) == {USCC}


def test_a_19_digit_typo_in_the_id_column_of_a_rejected_row_is_hashed(extract) -> None:
    typo = RESIDENT_ID + "3"
    rows = [case_row("C1", pid=typo)]
    rows += [case_row(f"C{i}", party_type="单位", name="甲公司", pid=USCC) for i in range(2, 30)]
    batch = extract("cases", _cases_xlsx(rows))
    assert batch.rows_rejected == 1
    assert typo not in _everything(batch) and RESIDENT_ID[:-1] not in _everything(batch)


def test_a_person_typed_as_a_company_is_masked_and_hashed(extract) -> None:
    rows = [case_row("C1", party_type="单位", name="李四", pid=RESIDENT_ID)]
    rows += [case_row(f"C{i}", party_type="单位", name="甲公司", pid=USCC) for i in range(2, 30)]
    batch = extract("cases", _cases_xlsx(rows))
    assert batch.rows_rejected == 1  # a resident ID is no USCC
    raw = json.loads(batch.rejects["raw"].iloc[0])
    assert raw["当事人名称"] == "李*" and raw["案件名称"] == "李*销售过期食品案"
    assert RESIDENT_ID not in batch.rejects["raw"].iloc[0]
    assert "李四" not in batch.rejects["raw"].iloc[0]


def _pledge_xlsx(rows: list[list[object]]) -> bytes:
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    sheet = book.add_worksheet("质押登记")
    header = ["登记号", "出质人", "质权人", "质押物类型", "登记日期", "质押金额(万元)"]
    for r, row in enumerate([header, *rows]):
        for c, cell in enumerate(row):
            sheet.write(r, c, cell)
    book.close()
    return buf.getvalue()


def test_a_natural_person_pledgor_is_masked_and_hashed(extract) -> None:
    rows: list[list[object]] = [
        [f"ZY{i}", "甲科技有限公司", "乙银行", "专利", "2024-01-05", 100] for i in range(30)
    ]
    rows[0][1] = f"王小明({RESIDENT_ID})"
    rows[1][1] = f"赵六 {RESIDENT_ID[:-1]}x"
    batch = extract("ip_pledge", _pledge_xlsx(rows))
    assert batch.rows_accepted == 30
    frame = batch.accepted_frame().set_index("reg_no")
    assert frame.loc["ZY0", "pledgor"].startswith("王**(hmac:")
    assert frame.loc["ZY1", "pledgor"].startswith("赵* hmac:")
    assert frame.loc["ZY2", "pledgor"] == "甲科技有限公司"  # no number: an organisation
    everything = _everything(batch)
    assert "小明" not in everything and RESIDENT_ID[:-1] not in everything
    # The same person hashes the same wherever found (links across deliveries).
    token = re.search(r"hmac:[0-9a-f]{16}", frame.loc["ZY0", "pledgor"]).group(0)
    assert token in scrub_resident_ids(RESIDENT_ID, KEY)
