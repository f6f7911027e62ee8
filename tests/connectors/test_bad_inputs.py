"""Malformed exports get a verdict with closing accounting: never a crash, never a hang."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.extract import extract_bytes, extract_file
from connectors.landing import discover
from connectors.sources import SOURCES
from tests.connectors.bad_inputs import build_corpus
from tests.connectors.conftest import KEY, landing


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str | None]]:
    root = tmp_path_factory.mktemp("landing")
    return root, build_corpus(root)


def test_corpus_files_get_the_expected_verdicts(corpus) -> None:
    root, expected = corpus
    files, ignored = discover(str(root))
    found = {f.relative: f for f in files}
    assert set(found) == set(expected)
    for relative, reason in expected.items():
        batch = extract_file(found[relative], pii_key=KEY)
        assert batch.accounting_closes, relative
        if reason is not None:
            assert (batch.verdict, batch.reason) == ("quarantine", reason), relative


def test_names_and_links_outside_the_contract_are_ignored(corpus) -> None:
    root, _ = corpus
    _, ignored = discover(str(root))
    reasons = {i.relative: i.why for i in ignored}
    assert "registration/~$经营主体登记业务明细_20240101-20240131.csv" in reasons
    assert "registration/..x.csv" in reasons
    assert "outside" in reasons["registration/经营主体登记业务明细_20241201-20241231.csv"]


def test_formula_injection_is_kept_as_plain_text(corpus) -> None:
    root, _ = corpus
    files, _ = discover(str(root))
    f = next(f for f in files if f.relative.endswith("20240501-20240531.csv"))
    names = extract_file(f, pii_key=KEY).accepted_frame()["entity_name"].tolist()
    assert names == ["=cmd|' /C calc'!A0", "+SUM(A1)"]


def test_ten_megabyte_cell_is_read(corpus) -> None:
    root, _ = corpus
    files, _ = discover(str(root))
    f = next(f for f in files if f.relative.endswith("20240301-20240331.csv"))
    batch = extract_file(f, pii_key=KEY)
    assert batch.rows_read == 1 and batch.accounting_closes


_cells = st.one_of(
    st.text(
        alphabet=st.sampled_from(list('0123456789,.-/年月日 \u3000"\n\r=是否个人单位XxＡ２')),
        max_size=30,
    ),
    st.sampled_from(
        [
            "设立登记",
            "网办",
            "2024-01-05",
            "2024年1月",
            "蓬江区",
            "合计:3条",
            "10,000.5",
            "个人",
            "是",
        ]
    ),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.sampled_from(sorted(SOURCES)), body=st.binary(max_size=600))
def test_any_bytes_give_a_verdict_that_closes(source: str, body: bytes) -> None:
    batch = extract_bytes(
        landing(source), __import__("io").BytesIO(body), pii_key=KEY, threshold=Decimal("0.05")
    )
    assert batch.verdict in ("readable", "quarantine")
    assert batch.accounting_closes


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=st.sampled_from(sorted(s for s in SOURCES if SOURCES[s].format == "csv")),
    rows=st.lists(st.lists(_cells, min_size=1, max_size=16), max_size=12),
)
def test_any_rows_under_a_valid_header_give_a_verdict_that_closes(
    source: str, rows: list[list[str]]
) -> None:
    import csv
    import io

    src = SOURCES[source]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([c.header for c in src.columns])
    writer.writerows(rows)
    batch = extract_bytes(landing(source), io.BytesIO(buf.getvalue().encode("utf-8")), pii_key=KEY)
    assert batch.accounting_closes
    if batch.verdict == "readable":
        assert batch.rows_read >= 1
