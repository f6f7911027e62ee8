"""Every export of each landing area reads with its expected accounting: the generator's (demo)
and, where present, the customer's samples (shared/samples/accounting.json)."""

from __future__ import annotations

import pytest
from corpora import Corpus

from connectors.extract import extract_file
from connectors.landing import discover

KEY = b"sample-key"


@pytest.fixture(scope="module")
def batches(corpus: Corpus) -> dict:
    files, ignored = discover(str(corpus.landing))
    assert not ignored
    return {f.relative: extract_file(f, pii_key=KEY) for f in files}


def test_every_file_has_the_expected_accounting(batches: dict, corpus: Corpus) -> None:
    assert set(batches) == set(corpus.accounting)
    for name, batch in batches.items():
        got = {
            "rows_read": batch.rows_read,
            "rows_accepted": batch.rows_accepted,
            "rows_rejected": batch.rows_rejected,
            "rows_duplicate": batch.rows_duplicate,
            "verdict": "published" if batch.verdict == "readable" else "quarantined",
        }
        assert got == corpus.accounting[name], name
        assert batch.accounting_closes


def test_no_natural_person_id_in_clear_in_any_output(batches: dict, corpus: Corpus) -> None:
    assert corpus.person_ids
    text = "".join(b.accepted_frame().to_csv() + b.rejects.to_csv() for b in batches.values())
    assert [i for i in corpus.person_ids if i in text] == []
