"""Prefect Secret blocks, read for the settings: the settings module names the blocks, this
module (the layer that knows Prefect) loads them.

`install()` is called where a command or a flow run starts (and by `tasks.context` in any
process running tasks): from then on `Settings.secret` and `Settings.resolve_secrets` read a
named block through `load_secret_block`, once per process, Prefect API and flow run.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from bureau_stats.settings import SecretBlockError, use_block_loader


def install() -> None:
    """Let the settings read Prefect Secret blocks in this process (idempotent)."""
    use_block_loader(_load)


def _load(block: str, variable: str, refresh: bool) -> SecretStr:
    return load_secret_block(block, variable=variable, refresh=refresh)


# Loaded blocks, per (Prefect API, block name): (flow run id when loaded, value). A new flow
# run loads its blocks again, so a rotated secret is picked up by the next run.
_blocks: dict[tuple[str, str], tuple[str | None, SecretStr]] = {}
_blocks_lock = threading.Lock()


def load_secret_block(block: str, *, variable: str, refresh: bool = False) -> SecretStr:
    """The string value of the Prefect Secret block `block`, as a SecretStr.

    Cached per process, Prefect API and flow run (tasks in the flow's process reuse what the
    flow loaded when it started; a Dask worker loads it once per run). `variable` is the
    setting naming the block, for the error message. Raises SecretBlockError.
    """
    api, run_id = _prefect_api(), _flow_run_id()
    key = (api or "", block)
    with _blocks_lock:
        cached = _blocks.get(key)
        if cached is not None and cached[0] == run_id and not refresh:
            return cached[1]
        value = _fetch_secret_block(block, variable, api)
        _blocks[key] = (run_id, value)
        return value


def forget_secret_blocks() -> None:
    """Drop the loaded blocks (tests; a process that wants to re-read rotated secrets)."""
    with _blocks_lock:
        _blocks.clear()


def _fetch_secret_block(block: str, variable: str, api: str | None) -> SecretStr:
    where = f"on the Prefect server at {api}" if api else "in Prefect's ephemeral mode"
    try:
        from prefect.blocks.system import Secret
        from prefect.exceptions import ObjectNotFound

        loaded: Any = Secret.load(block, _sync=True)  # type: ignore[call-arg]
        raw = loaded.value.get_secret_value()
    except Exception as exc:  # never chained: a validation error may quote what it read
        if isinstance(exc, ValueError) and isinstance(exc.__cause__, ObjectNotFound):
            raise SecretBlockError(
                variable, block, f"does not exist {where}", missing=True
            ) from None
        if _connection_error(exc):
            problem = f"could not be read: no answer {where} ({type(exc).__name__}: {exc})"
        else:
            problem = f"could not be read {where} ({type(exc).__name__})"
        raise SecretBlockError(variable, block, problem) from None
    if not isinstance(raw, str):  # a Secret block may hold JSON (an object, a number)
        raise SecretBlockError(variable, block, f"holds a {type(raw).__name__}, not a string")
    if not raw:
        raise SecretBlockError(variable, block, "is empty")
    return SecretStr(raw)


def _connection_error(exc: BaseException) -> bool:
    try:
        import httpx
    except ImportError:  # pragma: no cover - Prefect depends on httpx
        return isinstance(exc, OSError)
    return isinstance(exc, (httpx.TransportError, OSError))


def _prefect_api() -> str | None:
    """The Prefect API URL in use, without any user:password part (None: ephemeral mode)."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # IPv6
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()


def _flow_run_id() -> str | None:
    from prefect.runtime import flow_run

    run_id = flow_run.id
    return str(run_id) if run_id else None
