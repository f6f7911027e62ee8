"""Report tests reuse the hand-made warehouse helper of the metric tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_HELPER = Path(__file__).resolve().parents[1] / "metrics" / "tiny_warehouse.py"
if "tiny_warehouse" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("tiny_warehouse", _HELPER)
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["tiny_warehouse"] = _module
    _spec.loader.exec_module(_module)
