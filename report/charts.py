"""Monthly trend charts (matplotlib, Agg backend) with a CJK font so Chinese labels render.

Without any CJK font installed the chart still renders, with the metric codes and English
axis labels instead of Chinese ones (and a warning), rather than boxes for every character.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402

from metrics.engine import Value  # noqa: E402

# The Regular weight of Noto Sans SC (OFL), a static font shipped by the Python dependency
# `pylopdf-fonts-zh-cn`: charts look the same on every machine, with no system font.
# pyplot's figures and rcParams are process-wide: two years' reports rendered at once
# (flows.run.refresh_years) draw one chart at a time.
_PYPLOT = threading.Lock()
PACKAGED_FONT = ("pylopdf_fonts_zh_cn", "NotoSansSC-Regular.otf")
PACKAGED_FAMILY = "Noto Sans SC"
# Families tried in order; the first one installed is used.
CJK_FAMILIES = (
    PACKAGED_FAMILY,
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Serif CJK SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "AR PL UMing CN",
)
_CJK_FILE_HINTS = ("cjk", "wqy", "wenquanyi", "simhei", "simsun", "msyh", "pingfang", "uming")


class NoCJKFontWarning(UserWarning):
    """No font able to draw Chinese was found; charts fall back to Latin labels."""


@cache
def cjk_font() -> str | None:
    """The family name of an installed CJK font, or None: the packaged Noto Sans SC Regular
    (`PACKAGED_FONT`) when installed, else a system CJK font."""
    _register_packaged_font()
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in installed:
            return family
    # The font cache may predate the font install: register matching system files.
    for path in font_manager.findSystemFonts():
        if any(hint in Path(path).name.lower() for hint in _CJK_FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError):
                continue
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in installed), None)


def _register_packaged_font() -> None:
    package, name = PACKAGED_FONT
    try:
        from importlib.resources import files

        font = files(package) / name
    except ModuleNotFoundError:
        return
    if font.is_file():
        font_manager.fontManager.addfont(str(font))


@dataclass(frozen=True)
class Series:
    code: str
    label: str
    values: Sequence[Value]


def trend_chart(title: str, series: Sequence[Series], title_latin: str = "") -> bytes:
    """A line chart of monthly values (months after the cut-off are left out); PNG bytes."""
    family = cjk_font()
    if family is None:
        warnings.warn(
            "no CJK font found (install fonts-noto-cjk or fonts-wqy-microhei): "
            "chart labels fall back to metric codes",
            NoCJKFontWarning,
            stacklevel=2,
        )
    families = [family, "DejaVu Sans"] if family else ["DejaVu Sans"]
    months = list(range(1, 13))
    with _PYPLOT, plt.rc_context({"font.family": families}):
        fig, ax = plt.subplots(figsize=(8, 3.6), dpi=150)
        try:
            for s in series:
                points = [
                    (m, float(v)) for m, v in zip(months, s.values, strict=True) if v is not None
                ]
                if not points:
                    continue
                xs, ys = zip(*points, strict=True)
                ax.plot(
                    xs,
                    ys,
                    marker="o",
                    linewidth=1.8,
                    markersize=3.5,
                    label=s.label if family else s.code,
                )
            ax.set_xticks(months)
            ax.set_xticklabels([f"{m}月" if family else str(m) for m in months])
            ax.set_xlim(0.5, 12.5)
            ax.set_ylim(bottom=0)
            ax.set_title(title if family else (title_latin or "Monthly trend"))
            ax.set_xlabel("月份" if family else "Month")
            ax.grid(axis="y", alpha=0.3)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            handles = ax.get_legend_handles_labels()[0]
            if handles:
                # below the axes, so it never hides a point
                ax.legend(
                    loc="upper center",
                    bbox_to_anchor=(0.5, -0.2),
                    fontsize=8,
                    frameon=False,
                    ncol=min(4, len(handles)),
                )
            fig.tight_layout()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", bbox_inches="tight")
        finally:
            plt.close(fig)
    return buffer.getvalue()


def chart_series(
    codes: Sequence[str], labels: Mapping[str, str], monthly: Mapping[str, Sequence[Value]]
) -> list[Series]:
    return [Series(code, labels[code], monthly[code]) for code in codes]
