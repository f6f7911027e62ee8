"""The backfill plan: a pure function of the ledger, the landing area and the request."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.batch import LandingFile
from tasks.plan import (
    BackfillPlan,
    Delivered,
    Present,
    build_backfill_plan,
    build_nightly_plan,
    render_plan,
)

JAN = (date(2024, 1, 1), date(2024, 1, 31))
FEB = (date(2024, 2, 1), date(2024, 2, 29))


def landing(
    source: str, period: tuple[date, date], version: int = 1, name: str | None = None
) -> LandingFile:
    stem = f"{period[0]:%Y%m%d}-{period[1]:%Y%m%d}" + (f"_v{version}" if version > 1 else "")
    relative = f"{source}/{name or 'x'}_{stem}.csv"
    return LandingFile(source, f"/l/{relative}", relative, period[0], period[1], version, "csv")


def delivered(f: LandingFile, sha: str, order: int, status: str = "published") -> Delivered:
    return Delivered(
        source=f.source,
        file=f.relative,
        sha256=sha,
        period_start=f.period_start,
        period_end=f.period_end,
        version=f.version,
        delivery_order=order,
        status=status,
        batch_id=order * 10,
    )


def actions(plan: BackfillPlan) -> list[tuple[str, str, int | None]]:
    return [(f.file, f.action, f.delivery_order) for f in plan.files]


@pytest.fixture()
def world() -> tuple[list[Delivered], list[Present]]:
    a_jan, a_feb = landing("cases", JAN), landing("cases", FEB)
    b_jan, b_jan_v2 = landing("registration", JAN), landing("registration", JAN, 2)
    q_feb = landing("inspections", FEB)
    ledger = [
        delivered(a_jan, "a1", 1),
        delivered(b_jan, "b1", 2),
        delivered(a_feb, "a2", 3),
        delivered(q_feb, "q2", 4, "quarantined"),
    ]
    present = [
        Present(a_jan, "a1"),
        Present(a_feb, "a2"),
        Present(b_jan, "b1"),
        Present(b_jan_v2, "b1v2"),  # a correction dropped in: new content
        Present(q_feb, "q2"),
    ]
    return ledger, present


def test_without_force_unchanged_files_are_skipped_and_new_content_published(world) -> None:  # type: ignore[no-untyped-def]
    ledger, present = world
    plan = build_backfill_plan(ledger, present, start=JAN[0], end=JAN[1])
    assert actions(plan) == [
        ("cases/x_20240101-20240131.csv", "skip", 1),
        ("registration/x_20240101-20240131.csv", "skip", 2),
        ("registration/x_20240101-20240131_v2.csv", "publish", None),
    ]
    assert plan.years == (2024,)
    assert [f.file for f in plan.to_process] == ["registration/x_20240101-20240131_v2.csv"]


def test_force_revalidates_every_delivered_file_in_delivery_order(world) -> None:  # type: ignore[no-untyped-def]
    ledger, present = world
    plan = build_backfill_plan(
        ledger, present, start=date(2024, 1, 15), end=date(2024, 2, 10), force=True
    )
    assert actions(plan) == [
        ("cases/x_20240101-20240131.csv", "republish", 1),
        ("registration/x_20240101-20240131.csv", "republish", 2),
        ("cases/x_20240201-20240229.csv", "republish", 3),
        ("inspections/x_20240201-20240229.csv", "revalidate", 4),
        ("registration/x_20240101-20240131_v2.csv", "publish", None),
    ]
    queues = plan.queues()
    assert [f.delivery_order for f in queues["cases"]] == [1, 3]
    assert [f.file for f in queues["registration"]][-1].endswith("_v2.csv")
    assert plan.counts() == {"skip": 0, "publish": 1, "republish": 3, "revalidate": 1, "missing": 0}


def test_sources_and_range_limit_the_plan(world) -> None:  # type: ignore[no-untyped-def]
    ledger, present = world
    plan = build_backfill_plan(
        ledger, present, start=FEB[0], end=FEB[1], sources=["cases"], force=True
    )
    assert actions(plan) == [("cases/x_20240201-20240229.csv", "republish", 3)]
    assert plan.sources == ("cases",)
    with pytest.raises(ValueError, match="ends"):
        build_backfill_plan(ledger, present, start=FEB[1], end=FEB[0])


def test_content_gone_from_the_landing_is_missing_and_pending_is_resumed(world) -> None:  # type: ignore[no-untyped-def]
    ledger, present = world
    ledger = [*ledger[:3], delivered(landing("inspections", FEB), "q2", 4, "pending")]
    present = [p for p in present if p.sha256 != "a2"]
    plan = build_backfill_plan(ledger, present, start=FEB[0], end=FEB[1])
    assert actions(plan) == [
        ("cases/x_20240201-20240229.csv", "missing", 3),
        ("inspections/x_20240201-20240229.csv", "publish", 4),  # keeps its delivery order
    ]
    assert plan.years == (2024,)


def test_same_content_under_another_name_is_not_a_new_delivery(world) -> None:  # type: ignore[no-untyped-def]
    ledger, present = world
    copy = Present(landing("cases", JAN, name="copy"), "a1")
    plan = build_backfill_plan(ledger, [*present, copy], start=JAN[0], end=JAN[1])
    assert [f.action for f in plan.files if f.source == "cases"] == ["skip"]
    assert plan.files[0].landing is not None and plan.files[0].landing.relative.startswith(
        "cases/x_"
    )


def test_nightly_plan_takes_only_new_content_and_ignores_what_left_the_landing(world) -> None:  # type: ignore[no-untyped-def]
    ledger, present = world
    plan = build_nightly_plan(ledger, present[1:])  # cases January was archived away
    assert [f.file for f in plan.to_process] == ["registration/x_20240101-20240131_v2.csv"]
    assert "missing" not in {f.action for f in plan.files}
    assert len(plan.files) == 4


def test_nightly_plan_lists_a_second_copy_of_a_content_as_skipped(world) -> None:  # type: ignore[no-untyped-def]
    ledger, present = world
    copies = [
        Present(landing("cases", JAN, name="copy"), "a1"),
        Present(landing("cases", FEB, 2), "new"),
    ]
    copies.append(Present(landing("cases", FEB, 2, name="again"), "new"))
    plan = build_nightly_plan(ledger, [*present, *copies])
    assert len(plan.files) == len(present) + len(copies)
    extra = {f.file: (f.action, f.delivery_order) for f in plan.files[-2:]}
    assert extra == {
        "cases/copy_20240101-20240131.csv": ("skip", 1),
        "cases/again_20240201-20240229_v2.csv": ("skip", None),
    }
    assert [f.file for f in plan.to_process] == [
        "registration/x_20240101-20240131_v2.csv",
        "cases/x_20240201-20240229_v2.csv",
    ]


def test_registered_plan_keeps_the_same_files_and_actions(world) -> None:  # type: ignore[no-untyped-def]
    ledger, present = world
    plan = build_backfill_plan(ledger, present, start=JAN[0], end=JAN[1])
    done = plan.registered({("registration", "b1v2"): (77, 5)})
    assert [(f.file, f.action) for f in done.files] == [(f.file, f.action) for f in plan.files]
    assert done.files[-1].delivery_order == 5 and done.files[-1].batch_id == 77


def test_render_and_json_show_every_file_in_processing_order(world) -> None:  # type: ignore[no-untyped-def]
    ledger, present = world
    plan = build_backfill_plan(ledger, present, start=JAN[0], end=JAN[1], force=True)
    text = render_plan(plan)
    lines = [line for line in text.splitlines() if "x_2024" in line]
    assert [line.split()[2] for line in lines] == ["republish", "republish", "publish"]
    assert "metrics and report refreshed for: 2024" in text
    doc = json.loads(json.dumps(plan.as_dict()))
    assert [f["action"] for f in doc["files"]] == ["republish", "republish", "publish"]
    assert doc["years"] == [2024] and doc["force"] is True


periods = st.sampled_from([JAN, FEB, (date(2024, 1, 1), date(2024, 6, 30))])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["cases", "registration"]), periods, st.integers(1, 3), st.booleans()
        ),
        min_size=1,
        max_size=12,
        unique_by=lambda t: (t[0], t[1], t[2]),
    ),
    st.booleans(),
)
def test_one_sources_files_always_run_in_delivery_order_new_ones_last(specs, force) -> None:  # type: ignore[no-untyped-def]
    ledger, present = [], []
    order = 0
    for i, (source, period, version, known) in enumerate(specs):
        f = landing(source, period, version)
        present.append(Present(f, f"sha{i}"))
        if known:
            order += 1
            ledger.append(delivered(f, f"sha{i}", order))
    plan = build_backfill_plan(ledger, present, start=JAN[0], end=date(2024, 12, 31), force=force)
    assert len(plan.files) == len(specs)
    for files in plan.queues().values():
        known_orders = [f.delivery_order for f in files if f.delivery_order is not None]
        assert known_orders == sorted(known_orders)
        new = [f for f in files if f.delivery_order is None]
        assert files[len(files) - len(new) :] == new
        keys = [(f.period_end, f.period_start, f.version) for f in new]
        assert keys == sorted(keys)
