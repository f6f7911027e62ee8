"""The operators' notifications, committed as Prefect automation definitions (the YAML files
beside this module) and applied to a Prefect server by name, so applying again updates them.

Each file is one automation in the schema of Prefect's automation API, except that its
`send-notification` actions carry no `block_document_id`: which notification block to use
depends on the server, so `apply` fills it in from the block the operator names
(BUREAU_STATS_NOTIFY_BLOCK, `TYPE/NAME` as `Block.load` takes it). Without a block each
automation is created with a `do-nothing` action: it still fires, and its firing is in the UI's
event feed (`prefect.automation.triggered`), but nobody is told.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml

DEFINITIONS_DIR = Path(__file__).resolve().parent
NOTIFY = "send-notification"
DO_NOTHING = {"type": "do-nothing"}


class AutomationError(RuntimeError):
    """A definition or the notification block cannot be used; one line for the operator."""


def definitions(folder: Path = DEFINITIONS_DIR) -> list[dict[str, Any]]:
    """The automation definitions, as written in the files (sorted by file name)."""
    found = []
    for path in sorted(folder.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or not doc.get("name"):
            raise AutomationError(f"{path.name}: not an automation definition (no name)")
        found.append(doc)
    return found


def with_action(definition: dict[str, Any], block_document_id: UUID | None) -> dict[str, Any]:
    """The definition with its notification actions bound to the block, or made do-nothing."""
    actions = []
    for action in definition.get("actions") or []:
        if action.get("type") != NOTIFY:
            actions.append(action)
        elif block_document_id is None:
            actions.append(DO_NOTHING)
        else:
            actions.append({**action, "block_document_id": str(block_document_id)})
    return {**definition, "actions": actions or [DO_NOTHING]}


def to_automation(definition: dict[str, Any]) -> Any:
    """Validate against Prefect's own schema (raises AutomationError naming the automation)."""
    from prefect.events.schemas.automations import AutomationCore
    from pydantic import ValidationError

    try:
        return AutomationCore.model_validate(definition)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AutomationError(
            f"automation {definition.get('name')!r}: {where}: {first['msg']}"
        ) from None


@dataclass(frozen=True)
class Applied:
    name: str
    id: UUID
    action: str  # "created" or "updated"
    removed: int  # duplicates of the same name deleted


def notification_block_id(client: Any, block: str) -> UUID:
    """The id of the notification block `TYPE/NAME` (e.g. `slack-webhook/operators`)."""
    from prefect.exceptions import ObjectNotFound

    slug, _, name = block.partition("/")
    if not slug or not name:
        raise AutomationError(
            f"notification block {block!r}: give it as TYPE/NAME, e.g. slack-webhook/operators "
            "(the type's slug and the block's name, as the Prefect UI's Blocks page shows them)"
        )
    try:
        document = client.read_block_document_by_name(
            name=name, block_type_slug=slug, include_secrets=False
        )
    except ObjectNotFound:
        raise AutomationError(
            f"notification block {block!r} does not exist on the Prefect server: create it "
            "(UI: Blocks, +) or fix BUREAU_STATS_NOTIFY_BLOCK / --notify-block"
        ) from None
    capabilities = set(document.block_schema.capabilities) if document.block_schema else set()
    if "notify" not in capabilities:
        raise AutomationError(f"block {block!r} is not a notification block")
    return UUID(str(document.id))


def apply(notify_block: str | None = None, folder: Path = DEFINITIONS_DIR) -> list[Applied]:
    """Create or update (by name) every automation of `folder` on the Prefect server the
    environment names (PREFECT_API_URL); a name held by several automations keeps one."""
    from prefect.client.orchestration import get_client

    applied = []
    with get_client(sync_client=True) as client:
        block_id = notification_block_id(client, notify_block) if notify_block else None
        wanted = [to_automation(with_action(d, block_id)) for d in definitions(folder)]
        for automation in wanted:
            existing = sorted(
                client.read_automations_by_name(automation.name), key=lambda a: str(a.id)
            )
            if existing:
                keep, *extra = existing
                client.update_automation(keep.id, automation)
                for duplicate in extra:
                    client.delete_automation(duplicate.id)
                applied.append(Applied(automation.name, keep.id, "updated", len(extra)))
            else:
                new_id = client.create_automation(automation)
                applied.append(Applied(automation.name, new_id, "created", 0))
    return applied
