"""Write-audit-publish on both backends: supersession, replays, idempotence, quarantine, locks."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, select, text, update
from warehouse_factory import PERSON_ID, make_batch

from connectors.batch import ExtractedBatch
from connectors.sources import SOURCES
from warehouse.engine import open_warehouse
from warehouse.leases import SourceLocked, acquire_source_locks, process_space, source_lock_key
from warehouse.ledger import order_deliveries, register_deliveries, register_delivery
from warehouse.publish import PublishResult, publish_batch, quarantine_batch
from warehouse.schema import SOURCE_TABLES, batch, reject, source_lock, source_table
from warehouse.status import list_batches, list_rejects
from warehouse.supersession import _owners

REPO = Path(__file__).resolve().parents[2]
JAN = (date(2024, 1, 1), date(2024, 1, 31))
FEB = (date(2024, 2, 1), date(2024, 2, 29))


def deliver(engine: Engine, *batches: ExtractedBatch, **kw: Any) -> list[PublishResult]:
    """One run: register in rule-2 order, then publish each new file in that order."""
    ordered = order_deliveries(list(batches))
    records = register_deliveries(engine, ordered)
    return [
        publish_batch(engine, b, r, **kw)
        for b, r in zip(ordered, records, strict=True)
        if r.action != "skipped"
    ]


def current_rows(engine: Engine, source: str) -> list[tuple[Any, ...]]:
    t = source_table(source)
    key = t.c[SOURCES[source].key_fields[0]]
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.batch_id, t.c.partition_date, key)
            .where(t.c.superseded_at.is_(None))
            .order_by(t.c.partition_date, key)
        ).all()
    return [tuple(r) for r in rows]


def current_tags(engine: Engine, source: str = "registration") -> dict[date, str]:
    """partition date -> the tag ('v1', 'v2', ...) of the current rows for that date."""
    out: dict[date, str] = {}
    for _, day, key in current_rows(engine, source):
        tag = str(key).split("-")[0]
        assert out.get(day, tag) == tag, f"two files current for {day}"
        out[day] = tag
    return out


def statuses(engine: Engine) -> dict[str, str]:
    return {b["file"].split("/")[-1]: b["status"] for b in list_batches(engine)}


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a reader can see: source tables, rejects, and finished ledger rows."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name, t in SOURCE_TABLES.items():
            out[name] = sorted(map(tuple, conn.execute(select(t)).all()), key=repr)
        out["reject"] = sorted(map(tuple, conn.execute(select(reject)).all()), key=repr)
    out["ledger"] = [tuple(sorted(b.items())) for b in list_batches(engine)]
    return out


def test_v2_delivered_later_supersedes_v1_including_withdrawn_dates(engine: Engine) -> None:
    v1 = make_batch("registration", *JAN, days=[date(2024, 1, d) for d in (3, 10, 20)])
    deliver(engine, v1)
    assert current_tags(engine) == {date(2024, 1, d): "v1" for d in (3, 10, 20)}
    # The correction drops Jan 20 entirely (a withdrawal) and changes the others.
    v2 = make_batch("registration", *JAN, version=2, days=[date(2024, 1, d) for d in (3, 10)])
    [result] = deliver(engine, v2)
    assert result.status == "published" and result.rows_superseded == 3
    assert current_tags(engine) == {date(2024, 1, 3): "v2", date(2024, 1, 10): "v2"}
    assert statuses(engine) == {
        v1.file.relative.split("/")[-1]: "superseded",
        v2.file.relative.split("/")[-1]: "published",
    }


def test_v1_and_v2_in_the_same_run_v2_wins(engine: Engine) -> None:
    v1 = make_batch("registration", *JAN)
    v2 = make_batch("registration", *JAN, version=2)
    results = deliver(engine, v2, v1)  # given in any order; rule 2 orders v1 before v2
    assert [r.file.endswith("_v2.csv") for r in results] == [False, True]
    assert set(current_tags(engine).values()) == {"v2"}
    orders = {b["version"]: b["delivery_order"] for b in list_batches(engine)}
    assert orders[1] < orders[2]


def test_rule2_orders_by_period_end_then_start_then_version() -> None:
    q1 = make_batch("ip_cases", date(2024, 1, 1), date(2024, 3, 31))
    mar = make_batch("registration", date(2024, 3, 1), date(2024, 3, 31))
    jan_v3 = make_batch("registration", *JAN, version=3)
    jan_v2 = make_batch("registration", *JAN, version=2)
    ordered = order_deliveries([q1, mar, jan_v3, jan_v2])
    assert ordered == [jan_v2, jan_v3, q1, mar]


def test_an_older_delivery_processed_late_never_wins(engine: Engine) -> None:
    v1 = make_batch("registration", *JAN)
    v2 = make_batch("registration", *JAN, version=2)
    rec1, rec2 = register_deliveries(engine, order_deliveries([v1, v2]))
    publish_batch(engine, v2, rec2)  # the newer delivery is published first ...
    late = publish_batch(engine, v1, rec1)  # ... the older one (a resumed run, a backfill) after
    assert late.status == "superseded"
    assert set(current_tags(engine).values()) == {"v2"}
    # Its rows exist (lineage) but were never current: published and superseded at once.
    t = source_table("registration")
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.published_at, t.c.superseded_at).where(t.c.batch_id == rec1.id)
        ).all()
    assert rows and all(p == s for p, s in rows)


def test_replayed_content_changes_nothing(engine: Engine) -> None:
    v1 = make_batch("registration", *JAN)
    v2 = make_batch("registration", *JAN, version=2)
    deliver(engine, v1, v2)
    before = snapshot(engine)
    again = register_delivery(engine, v1)  # the old file dropped into the landing area again
    assert again.action == "skipped" and again.status == "superseded"
    assert deliver(engine, v1, v2) == []
    assert snapshot(engine) == before


def test_partial_overlap_keeps_uncovered_dates(engine: Engine) -> None:
    q1 = make_batch("registration", date(2024, 1, 1), date(2024, 3, 31), tag="q1")
    feb = make_batch("registration", *FEB, tag="feb")
    deliver(engine, q1)
    deliver(engine, feb)
    tags = current_tags(engine)
    assert {t for d, t in tags.items() if d.month == 2} == {"feb"}
    assert {t for d, t in tags.items() if d.month != 2} == {"q1"}
    assert set(statuses(engine).values()) == {"published"}  # q1 still owns January and March
    q1_v2 = make_batch("registration", date(2024, 1, 1), date(2024, 3, 31), version=2, tag="q1b")
    deliver(engine, q1_v2)
    assert set(current_tags(engine).values()) == {"q1b"}
    assert sorted(statuses(engine).values()) == ["published", "superseded", "superseded"]


def test_a_published_delivery_quarantined_later_gives_its_dates_back(engine: Engine) -> None:
    q1 = make_batch("registration", date(2024, 1, 1), date(2024, 3, 31), tag="q1")
    feb = make_batch("registration", *FEB, tag="feb")
    deliver(engine, q1)
    q1_february = {d for d, t in current_tags(engine).items() if d.month == 2}
    deliver(engine, feb)
    # A backfill re-validates February (ledger row reopened) and now refuses it.
    with engine.begin() as conn:
        conn.execute(update(batch).where(batch.c.sha256 == feb.sha256).values(status="pending"))
    record = register_delivery(engine, feb)
    assert record.action == "resumed"
    result = quarantine_batch(engine, feb, record, "suite_failed", "re-validated")
    assert result.status == "quarantined"
    tags = current_tags(engine)
    assert set(tags.values()) == {"q1"}
    assert {d for d in tags if d.month == 2} == q1_february
    assert statuses(engine) == {
        q1.file.relative.split("/")[-1]: "published",
        feb.file.relative.split("/")[-1]: "quarantined",
    }


def _requarantine(engine: Engine, late: ExtractedBatch) -> None:
    """A backfill re-validates a published delivery (ledger row reopened) and refuses it."""
    with engine.begin() as conn:
        conn.execute(update(batch).where(batch.c.sha256 == late.sha256).values(status="pending"))
    record = register_delivery(engine, late)
    assert quarantine_batch(engine, late, record, "suite_failed", "re-validated").status == (
        "quarantined"
    )


def test_two_corrections_quarantined_one_after_the_other_both_give_their_dates_back(
    engine: Engine,
) -> None:
    q1 = make_batch("registration", date(2024, 1, 1), date(2024, 3, 31), tag="q1")
    jan = make_batch("registration", *JAN, tag="jan")
    feb = make_batch("registration", *FEB, tag="feb")
    deliver(engine, q1)
    q1_rows = current_tags(engine)
    deliver(engine, jan, feb)
    assert {t for d, t in current_tags(engine).items() if d.month < 3} == {"jan", "feb"}
    _requarantine(engine, jan)  # January's rows of q1 come back, published now...
    _requarantine(engine, feb)  # ...and February's must too, although older than those
    assert current_tags(engine) == q1_rows
    assert statuses(engine)[q1.file.relative.split("/")[-1]] == "published"


D1, D2 = date(2024, 1, 1), date(2024, 1, 2)


def test_a_withdrawn_delivery_without_current_rows_still_gives_its_empty_dates_back(
    engine: Engine,
) -> None:
    """B (v2 of A's period) has a row on Jan 2 only, taken over by C: B holds no current row
    but owns Jan 1 (where A's row disappeared). Quarantining B must give Jan 1 back to A."""
    a = make_batch("registration", D1, D2, tag="a", days=[D1, D2])
    b = make_batch("registration", D1, D2, version=2, tag="b", days=[D2])
    c = make_batch("registration", D2, D2, tag="c", days=[D2])
    deliver(engine, a, b, c)
    assert current_tags(engine) == {D2: "c"}  # Jan 1: B's snapshot has no row
    _requarantine(engine, b)
    assert current_tags(engine) == {D1: "a", D2: "c"}


def _reopen(engine: Engine, late: ExtractedBatch) -> None:
    """A forced backfill reopened the delivery and its task failed: pending, rows in place."""
    with engine.begin() as conn:
        conn.execute(update(batch).where(batch.c.sha256 == late.sha256).values(status="pending"))


def test_a_reopened_newer_delivery_still_wins_over_an_older_one_republished(
    engine: Engine,
) -> None:
    d = make_batch("registration", D1, D1, tag="d", days=[D1])
    w = make_batch("registration", D1, date(2024, 1, 7), tag="w")
    deliver(engine, d, w)
    before = current_tags(engine)
    _reopen(engine, w)
    _reopen(engine, d)  # a later backfill republishes the older file
    record = register_delivery(engine, d)
    assert publish_batch(engine, d, record).status in ("published", "superseded")
    assert current_tags(engine) == before  # one file current per date: still W's


def test_a_reopened_middle_delivery_owns_its_dates_when_the_newest_is_withdrawn(
    engine: Engine,
) -> None:
    a = make_batch("registration", D1, D1, tag="a", days=[D1])
    b = make_batch("registration", D1, D1, version=2, tag="b", days=[D1])
    c = make_batch("registration", D1, D1, version=3, tag="c", days=[D1])
    deliver(engine, a, b, c)
    _reopen(engine, b)  # its task failed in the backfill...
    _requarantine(engine, c)  # ...which then refuses C
    assert current_tags(engine) == {D1: "b"}  # B's rows stand, not A's


def test_owner_of_each_date() -> None:
    from types import SimpleNamespace

    def row(i: int, order: int, start: date, end: date) -> SimpleNamespace:
        return SimpleNamespace(id=i, delivery_order=order, period_start=start, period_end=end)

    q1 = row(1, 1, date(2024, 1, 1), date(2024, 3, 31))
    feb = row(2, 2, *FEB)
    jan = row(3, 3, *JAN)
    assert sorted(
        _owners([q1, feb, jan], date(2024, 1, 1), date(2024, 3, 31)), key=lambda o: o[1]
    ) == [
        (3, date(2024, 1, 1), date(2024, 1, 31)),
        (2, date(2024, 2, 1), date(2024, 2, 29)),
        (1, date(2024, 3, 1), date(2024, 3, 31)),
    ]
    mid = row(4, 4, date(2024, 1, 10), date(2024, 1, 20))
    assert sorted(_owners([q1, mid], date(2024, 1, 1), date(2024, 1, 31)), key=lambda o: o[1]) == [
        (1, date(2024, 1, 1), date(2024, 1, 9)),
        (4, date(2024, 1, 10), date(2024, 1, 20)),
        (1, date(2024, 1, 21), date(2024, 1, 31)),
    ]


def test_amounts_dates_booleans_stay_exact(engine: Engine) -> None:
    b = make_batch("cases", *JAN, days=[date(2024, 1, 2), date(2024, 1, 3)])
    deliver(engine, b)
    t = source_table("cases")
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.penalty_yuan, t.c.filed_on, t.c.to_police).order_by(t.c.line)
        ).all()
    assert rows[0] == (Decimal("12345678901.2345"), date(2024, 1, 2), True)
    assert rows[1] == (Decimal("0.01"), date(2024, 1, 3), False)


def test_text_values_round_trip_through_staging(engine: Engine) -> None:
    """COPY CSV / executemany keep NULL, empty, quotes, separators, newlines, backslashes."""
    tricky = [
        None,
        "",
        'say "hi"',
        "a,b",
        "line1\nline2",
        "back\\slash",
        "\\N",
        "\\.",
        "（全角）〔2024〕",
    ]
    b = make_batch("registration", *JAN, days=[date(2024, 1, d + 1) for d in range(len(tricky))])
    b.accepted["authority"] = pd.Series(tricky, dtype="str")
    deliver(engine, b)
    t = source_table("registration")
    with engine.connect() as conn:
        got = conn.execute(select(t.c.authority).order_by(t.c.line)).scalars().all()
    assert got == tricky


def test_reject_share_quarantines_and_keeps_rejects(engine: Engine) -> None:
    good = make_batch("registration", *JAN)
    deliver(engine, good)
    before = current_rows(engine, "registration")
    bad = make_batch("registration", *JAN, version=2, rejected=2)  # 2 of 13 rows > 5 %
    [result] = deliver(engine, bad)
    assert (result.status, result.reason) == ("quarantined", "reject_share")
    assert current_rows(engine, "registration") == before  # the quarantined file supersedes nothing
    entry = next(b for b in list_batches(engine) if b["version"] == 2)
    assert entry["status"] == "quarantined" and entry["reason"] == "reject_share"
    assert (entry["rows_read"], entry["rows_accepted"], entry["rows_rejected"]) == (13, 11, 2)
    rejects = list_rejects(engine, bad.file.relative, limit=10)
    assert [r["line"] for r in rejects] == [1000, 1001]
    assert {r["reason"] for r in rejects} == {"bad_date"}
    t = source_table("registration")
    with engine.connect() as conn:
        assert conn.execute(select(t).where(t.c.batch_id == result.batch_id)).first() is None


def test_connector_verdict_quarantines_with_zero_accounting(engine: Engine) -> None:
    truncated = make_batch("special_equipment", *JAN, verdict="quarantine", reason="truncated")
    [result] = deliver(engine, truncated)
    assert (result.status, result.reason) == ("quarantined", "truncated")
    [entry] = list_batches(engine)
    assert entry["reason"] == "truncated"
    assert (
        entry["rows_read"],
        entry["rows_accepted"],
        entry["rows_rejected"],
        entry["rows_duplicate"],
    ) == (0, 0, 0, 0)
    assert current_rows(engine, "special_equipment") == []


def test_failed_suite_quarantines(engine: Engine) -> None:
    from expectations.audit import AuditOutcome

    b = make_batch("registration", *JAN)
    [record] = register_deliveries(engine, [b])
    failed = AuditOutcome(
        success=False, failures=["approved_on: 3 values before applied_on"], result_path=None
    )
    result = publish_batch(engine, b, record, audit=failed)
    assert (result.status, result.reason) == ("quarantined", "suite_failed")
    assert current_rows(engine, "registration") == []


def test_accounting_closes_for_every_batch(engine: Engine) -> None:
    deliver(
        engine,
        make_batch("registration", *JAN, rejected=0, duplicates=2),
        make_batch("registration", *FEB, rejected=3),  # quarantined: 3 of 13
        make_batch("cases", *JAN),
        make_batch("special_equipment", *JAN, verdict="quarantine", reason="truncated"),
    )
    batches = list_batches(engine)
    assert len(batches) == 4
    for b in batches:
        assert b["rows_read"] == b["rows_accepted"] + b["rows_rejected"] + b["rows_duplicate"]
    with engine.connect() as conn:
        for b in batches:
            bid = conn.execute(select(batch.c.id).where(batch.c.sha256 == b["sha256"])).scalar_one()
            n_rejects = conn.execute(select(reject.c.id).where(reject.c.batch_id == bid)).all()
            assert len(n_rejects) == b["rows_rejected"]
            if b["status"] == "published":
                t = source_table(b["source"])
                n = conn.execute(select(t.c.line).where(t.c.batch_id == bid)).all()
                assert len(n) == b["rows_accepted"]


def test_no_personal_id_in_clear(engine: Engine) -> None:
    deliver(
        engine, make_batch("cases", *JAN, rejected=1, days=[date(2024, 1, d) for d in range(1, 31)])
    )
    with engine.connect() as conn:
        for t in [reject, *SOURCE_TABLES.values()]:
            for row in conn.execute(select(t)).all():
                assert PERSON_ID not in repr(tuple(row))


# --- locks ---------------------------------------------------------------------------------


def advisory_locks(engine: Engine, *, waiting: bool = False) -> int:
    """Advisory locks held or waited for in the warehouse's database (`waiting`: only those
    waited for); 0 on SQLite, which has none."""
    if engine.dialect.name != "postgresql":
        return 0
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND NOT (:waiting AND granted) "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"waiting": waiting},
            ).scalar_one()
        )


def test_source_lock_not_waiting_raises_with_holder(engine: Engine) -> None:
    with acquire_source_locks(engine, ["cases", "registration"], "backfill-1", wait=False):
        with pytest.raises(SourceLocked) as info:
            acquire_source_locks(engine, ["registration"], "nightly-2", wait=False)
        assert (info.value.source, info.value.holder) == ("registration", "backfill-1")
        assert info.value.since is not None
        # A publish by someone else is refused while the lease is held.
        b = make_batch("registration", *JAN)
        [record] = register_deliveries(engine, [b])
        with pytest.raises(SourceLocked):
            publish_batch(engine, b, record, holder="nightly-2")
        assert advisory_locks(engine) == 0  # the refused publish released its source's lock
        assert publish_batch(engine, b, record, holder="backfill-1").status == "published"
        # Re-entrant for the same holder, and other sources stay free.
        acquire_source_locks(engine, ["registration"], "backfill-1", wait=False).release()
        acquire_source_locks(engine, ["inspections"], "nightly-2", wait=False).release()
    with engine.connect() as conn:
        assert conn.execute(select(source_lock)).all() == []
    acquire_source_locks(engine, ["registration"], "nightly-2", wait=False).release()


def test_lease_of_a_killed_process_is_taken_over(engine: Engine) -> None:
    import socket

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    holder = f"{socket.gethostname()}:{dead.stdout.strip()}"
    now = datetime.now(UTC)
    with engine.begin() as conn:  # a live lease, as far as its expiry goes
        conn.execute(
            source_lock.insert().values(
                source="cases",
                holder=holder,
                acquired_at=now,
                heartbeat_at=now,
                expires_at=now + timedelta(minutes=5),
                process=process_space(),
            )
        )
    with acquire_source_locks(engine, ["cases"], "me", wait=False), engine.connect() as conn:
        assert conn.execute(select(source_lock.c.holder)).scalar_one() == "me"


@pytest.mark.postgres
def test_postgres_publish_waits_for_the_advisory_lock(pg_url: str) -> None:
    """Two publishers of one source never overlap: the second waits for the lock, and its
    stamp (the ledger's, every row's published_at default) is taken after the wait; the lock
    is released with the publish (its connection goes back to the pool without it)."""
    import uuid

    from sqlalchemy import create_engine

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = open_warehouse(f"{pg_url}?options=-csearch_path%3D{schema}")
    try:
        b = make_batch("registration", *JAN)
        [record] = register_deliveries(engine, [b])
        results: list[PublishResult] = []
        with engine.connect() as holder_conn:
            holder_conn.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": source_lock_key("registration")}
            )
            worker = threading.Thread(
                target=lambda: results.append(publish_batch(engine, b, record))
            )
            worker.start()
            waiting = 0
            for _ in range(600):  # until the publisher is seen blocked on the advisory lock
                waiting = advisory_locks(admin, waiting=True)
                if waiting:
                    break
                worker.join(0.05)
            assert waiting == 1 and not results
            released = holder_conn.execute(text("SELECT clock_timestamp()")).scalar_one()
            holder_conn.rollback()  # releases the lock
        worker.join(60)
        assert [r.status for r in results] == ["published"]
        with engine.connect() as conn:
            stamp = conn.execute(
                select(batch.c.published_at).where(batch.c.id == record.id)
            ).scalar_one()
            rows = conn.execute(
                text("SELECT count(*), min(published_at), max(published_at) FROM registration")
            ).one()
        assert stamp > released
        assert tuple(rows) == (b.rows_accepted, stamp, stamp)
        assert advisory_locks(engine) == 0
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# --- crash safety ----------------------------------------------------------------------------

CRASH_SCRIPT = """
import os, sys
sys.path.insert(0, {factory_dir!r})
from datetime import date
from warehouse_factory import make_batch
from warehouse.engine import open_warehouse
from warehouse.ledger import register_deliveries
from warehouse import publish
from warehouse.publish import publish_batch
def probe(point):
    if point == {point!r}:
        os._exit(86)
publish.probe = probe
engine = open_warehouse({url!r})
b = make_batch("registration", date(2024, 1, 1), date(2024, 1, 31), version=2, rejected=0)
[record] = register_deliveries(engine, [b])
publish_batch(engine, b, record)
print("survived")
"""


@pytest.mark.parametrize("point", ["after_stage", "after_insert", "before_commit"])
def test_killed_publish_leaves_warehouse_unchanged_and_rerun_completes(
    warehouse_url: str, engine: Engine, point: str
) -> None:
    v1 = make_batch("registration", *JAN, rejected=0)
    deliver(engine, v1)
    before = snapshot(engine)
    script = CRASH_SCRIPT.format(
        factory_dir=str(Path(__file__).parent), url=warehouse_url, point=point
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 86, proc.stderr[-2000:]
    assert "survived" not in proc.stdout
    assert snapshot(engine) == before  # nothing of v2 is visible, v1 untouched
    # The next run resumes the pending delivery with its original order and completes it.
    v2 = make_batch("registration", *JAN, version=2, rejected=0)
    pending = register_delivery(engine, v2)
    assert pending.action == "resumed"
    result = publish_batch(engine, v2, pending)
    assert result.status == "published" and result.delivery_order == pending.delivery_order
    assert set(current_tags(engine).values()) == {"v2"}
    assert [b["status"] for b in list_batches(engine)] == ["superseded", "published"]


def test_sigkill_mid_publish(warehouse_url: str, engine: Engine, tmp_path: Path) -> None:
    """A real SIGKILL from outside while the publisher is inside its transaction."""
    import signal
    import time

    v1 = make_batch("registration", *JAN)
    deliver(engine, v1)
    before = snapshot(engine)
    marker = tmp_path / "inside"
    script = CRASH_SCRIPT.format(
        factory_dir=str(Path(__file__).parent), url=warehouse_url, point="never"
    ).replace(
        "publish_batch(engine, b, record)",
        "import time, pathlib\n"
        "def hook(name):\n"
        "    if name == 'after_insert':\n"
        f"        pathlib.Path({str(marker)!r}).write_text('x'); time.sleep(600)\n"
        "publish.probe = hook\n"
        "publish_batch(engine, b, record)",
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    try:
        for _ in range(1200):
            if marker.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert marker.exists(), "the publisher never reached the insert"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert snapshot(engine) == before
    v2 = make_batch("registration", *JAN, version=2, rejected=0)
    assert publish_batch(engine, v2, register_delivery(engine, v2)).status == "published"
