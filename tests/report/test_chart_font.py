"""Chinese chart labels are set in the packaged static Regular font, at a Regular stroke weight.

The stroke weight is measured as the share of dark pixels in "登记" drawn at 40 pt on a
200 x 100 px canvas: Noto Sans SC Regular (the packaged font) gives 0.091, the default instance
of the variable Noto Sans CJK that charts used before (Thin, weight 100) 0.033. A Regular-like
font must give at least `REGULAR_INK`, halfway between.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.font_manager import FontProperties, findfont

from report import charts

REGULAR_INK = 0.06
PNG = b"\x89PNG\r\n\x1a\n"


def _ink(font: FontProperties) -> float:
    """The share of dark pixels of '登记' drawn in `font` at 40 pt, 200 x 100 px."""
    font = font.copy()
    font.set_size(40)
    fig = plt.figure(figsize=(2, 1), dpi=100)
    try:
        fig.text(0.05, 0.2, "登记", fontproperties=font, color="black")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", facecolor="white")
    finally:
        plt.close(fig)
    buffer.seek(0)
    gray = plt.imread(buffer)[..., :3].mean(axis=2)
    return float(np.mean(gray < 0.5))


def test_charts_use_the_packaged_regular_font() -> None:
    family = charts.cjk_font()
    assert family == charts.PACKAGED_FAMILY
    path = Path(findfont(FontProperties(family=family), fallback_to_default=False))
    assert path.name == charts.PACKAGED_FONT[1]
    assert path.parent.name == charts.PACKAGED_FONT[0]


def test_chinese_label_is_drawn_at_a_regular_stroke_weight() -> None:
    family = charts.cjk_font()
    assert family is not None
    ink = _ink(FontProperties(family=family))
    assert ink >= REGULAR_INK, f"'登记' in {family} is too light ({ink:.3f}): a Thin font?"
    assert ink < 2 * REGULAR_INK  # and not a Bold or Black one


def test_a_chart_with_chinese_labels_renders() -> None:
    png = charts.trend_chart(
        "行政许可登记", [charts.Series("reg.establish", "设立登记业务", [3, 5, 4] + [None] * 9)]
    )
    assert png.startswith(PNG)
