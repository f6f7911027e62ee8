"""Every sample export reads with the accounting of shared/samples/accounting.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.extract import extract_file
from connectors.landing import discover

KEY = b"sample-key"


@pytest.fixture(scope="module")
def sample_batches(landing_samples: Path) -> dict:
    files, ignored = discover(str(landing_samples))
    assert not ignored
    return {f.relative: extract_file(f, pii_key=KEY) for f in files}


def test_every_sample_file_has_the_expected_accounting(
    sample_batches: dict, samples_dir: Path
) -> None:
    want = json.loads((samples_dir / "accounting.json").read_text())["files"]
    assert set(sample_batches) == set(want)
    for name, batch in sample_batches.items():
        got = {
            "rows_read": batch.rows_read,
            "rows_accepted": batch.rows_accepted,
            "rows_rejected": batch.rows_rejected,
            "rows_duplicate": batch.rows_duplicate,
            "verdict": "published" if batch.verdict == "readable" else "quarantined",
        }
        assert got == want[name], name
        assert batch.accounting_closes


def test_no_natural_person_id_in_clear_in_any_output(
    sample_batches: dict, samples_dir: Path
) -> None:
    ids = json.loads((samples_dir / "expected.json").read_text())[
        "natural_person_ids_that_must_not_appear_in_clear"
    ]
    text = "".join(
        b.accepted_frame().to_csv() + b.rejects.to_csv() for b in sample_batches.values()
    )
    assert [i for i in ids if i in text] == []
