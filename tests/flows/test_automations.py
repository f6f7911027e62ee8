"""The committed automations (bureau_stats/automations/*.yaml): valid in Prefect's own schema,
applied by name against a real Prefect server (twice keeps one of each), and firing: a Failed
run of a flow named `nightly`, a finished `backfill` and an overdue-delivery event each reach a
notification block pointing at an HTTP server of the test on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from flow_helpers import PrefectServer, run_cli

from bureau_stats.automations import DEFINITIONS_DIR, definitions, to_automation, with_action

NAMES = {
    "bureau-stats nightly failed or crashed",
    "bureau-stats backfill finished",
    "bureau-stats source overdue",
}


def test_definitions_are_prefect_automations_with_or_without_a_block() -> None:
    found = definitions()
    assert {d["name"] for d in found} == NAMES
    block = uuid.uuid4()
    for d in found:
        bound = to_automation(with_action(d, block))
        assert [a.type for a in bound.actions] == ["send-notification"]
        assert bound.actions[0].block_document_id == block
        assert bound.trigger.posture == "Reactive" and bound.trigger.threshold == 1
        default = to_automation(with_action(d, None))
        assert [a.type for a in default.actions] == ["do-nothing"]
    by_name = {d["name"]: to_automation(with_action(d, None)).trigger for d in found}
    nightly = by_name["bureau-stats nightly failed or crashed"]
    assert nightly.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert nightly.match_related.get("prefect.resource.name") == ["nightly"]  # type: ignore[union-attr]
    overdue = by_name["bureau-stats source overdue"]
    assert overdue.expect == {"bureau-stats.delivery.overdue"}
    assert overdue.match.get("prefect.resource.id") == ["bureau-stats.source.*"]
    backfill = by_name["bureau-stats backfill finished"]
    assert {"prefect.flow-run.Completed", "prefect.flow-run.Failed"} <= backfill.expect


def test_a_definition_outside_the_schema_is_one_line(tmp_path: Path) -> None:
    from bureau_stats.automations import AutomationError

    (tmp_path / "bad.yaml").write_text(
        "name: broken\ntrigger: {type: event, posture: Sideways}\nactions: []\n"
    )
    with pytest.raises(AutomationError, match="automation 'broken': trigger"):
        [to_automation(with_action(d, None)) for d in definitions(tmp_path)]
    assert DEFINITIONS_DIR.is_dir()


def test_apply_without_a_server_is_refused(tmp_path: Path) -> None:
    """Without PREFECT_API_URL Prefect would start a temporary server and lose them with it."""
    env = PrefectServer("", tmp_path, None).env()  # type: ignore[arg-type]
    env.pop("PREFECT_API_URL")
    done = run_cli(["bureau-stats", "automations", "apply"], env)
    assert done.returncode == 2 and done.stdout == ""
    assert (
        done.stderr.startswith("error: PREFECT_API_URL is not set") and done.stderr.count("\n") == 1
    )


# --- against a real Prefect server ---------------------------------------------------------


class _Inbox:
    """Requests received by the test's webhook, as JSON bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def wait_for(self, text: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for b in self.bodies:
                    if text in json.dumps(b, ensure_ascii=False):
                        return b
            time.sleep(0.5)
        raise TimeoutError(f"no notification mentioning {text!r}; got {self.bodies}")


@pytest.fixture()
def webhook() -> Iterator[tuple[str, _Inbox]]:
    inbox = _Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            with inbox.lock:
                inbox.bodies.append(body)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", inbox
    finally:
        server.shutdown()
        server.server_close()


def _automations(api: str) -> list[dict[str, Any]]:
    r = httpx.post(f"{api}/automations/filter", json={}, timeout=10)
    r.raise_for_status()
    return [a for a in r.json() if a["name"] in NAMES]


def _python(code: str, env: dict[str, str], tmp_path: Path) -> None:
    script = tmp_path / f"script_{uuid.uuid4().hex[:6]}.py"
    script.write_text(textwrap.dedent(code), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.prefect
@pytest.mark.slow
def test_apply_is_idempotent_and_the_automations_fire(
    prefect_server: PrefectServer, tmp_path: Path, webhook: tuple[str, _Inbox]
) -> None:
    api = prefect_server.api_url
    env = prefect_server.env()
    for a in _automations(api):  # the session's server may hold them from another test
        httpx.delete(f"{api}/automations/{a['id']}", timeout=10).raise_for_status()

    # no block named: created, firing to no one
    first = run_cli(["bureau-stats", "automations", "apply"], env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.count("created") == 3 and "do nothing" in first.stdout
    created = {a["name"]: a for a in _automations(api)}
    assert set(created) == NAMES
    assert {a["actions"][0]["type"] for a in created.values()} == {"do-nothing"}

    # a block that does not exist: one line, exit 2, nothing changed
    missing = run_cli(
        ["bureau-stats", "automations", "apply", "--notify-block", "custom-webhook/nope"], env
    )
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.count("\n") == 1 and "does not exist" in missing.stderr
    assert {a["actions"][0]["type"] for a in _automations(api)} == {"do-nothing"}

    # the operator's block: the same automations (same ids), now notifying through it
    url, inbox = webhook
    _python(
        f"""
        from prefect.blocks.notifications import CustomWebhookNotificationBlock
        CustomWebhookNotificationBlock(
            name="operators", url={url!r}, json_data={{"subject": "{{{{subject}}}}", "body": "{{{{body}}}}"}}
        ).save("test-operators", overwrite=True)
        """,
        env,
        tmp_path,
    )
    env["BUREAU_STATS_NOTIFY_BLOCK"] = "custom-webhook/test-operators"
    for _ in range(2):
        again = run_cli(["bureau-stats", "automations", "apply"], env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert again.stdout.count("updated") == 3 and "created" not in again.stdout
    applied = _automations(api)
    assert len(applied) == 3 and {a["id"] for a in applied} == {a["id"] for a in created.values()}
    assert {a["actions"][0]["type"] for a in applied} == {"send-notification"}

    # a Failed nightly, a finished backfill, an overdue source: each notifies
    _python(
        """
        from prefect import flow

        @flow(name="nightly", flow_run_name="nightly automation-test")
        def nightly() -> None:
            raise RuntimeError("1 file quarantined")

        @flow(name="backfill", flow_run_name="backfill automation-test")
        def backfill() -> int:
            return 0

        nightly(return_state=True)
        backfill()
        from prefect.events import emit_event
        emit_event(
            event="bureau-stats.delivery.overdue",
            resource={"prefect.resource.id": "bureau-stats.source.registration"},
            payload={
                "source": "registration",
                "periods": [{"period": "2026-10", "due": "2026-11-10", "days_overdue": 26}],
                "count": 1,
                "days_overdue": 26,
                "oldest": "2026-10-01",
            },
        )
        """,
        env,
        tmp_path,
    )
    failed = inbox.wait_for("nightly automation-test")
    assert "Failed" in failed["subject"] and "1 file quarantined" in failed["body"]
    finished = inbox.wait_for("backfill automation-test")
    assert "Completed" in finished["subject"]
    overdue = inbox.wait_for("registration overdue")
    assert "1 period(s) not delivered in time, the oldest from 2026-10-01" in overdue["body"]
    assert "up to 26 days overdue" in overdue["body"]
    assert not any("nightly" in b["subject"] and "Completed" in b["subject"] for b in inbox.bodies)
