"""The digest's two charts as PNG bytes, drawn with matplotlib's Agg backend on a bare
``Figure`` (no pyplot: no global state, safe in a worker thread)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from monitor.digest.build import Digest

# Drawn twice the displayed size (600 px wide in the e-mail) for sharp high-DPI screens.
WIDTH_IN, HEIGHT_IN, DPI = 6.0, 2.4, 200
INK, MUTED, ACCENT, COMPLAINT, GRID = "#1f2933", "#7b8794", "#2563eb", "#dc2626", "#e4e7eb"


def _figure() -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_facecolor("white")
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        axes.spines[side].set_color(GRID)
    axes.tick_params(colors=MUTED, labelsize=8)
    axes.yaxis.grid(True, color=GRID, linewidth=0.6)
    axes.set_axisbelow(True)
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout(pad=0.6)
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def volume_chart(digest: Digest) -> bytes:
    """Mentions and complaints per day, last week's mentions as a dashed line."""
    from matplotlib.ticker import MaxNLocator

    figure, ax = _figure()
    labels = [day[0] for day in digest.per_day]
    positions = list(range(len(labels)))
    mentions = [day[1] for day in digest.per_day]
    complaints = [day[2] for day in digest.per_day]
    previous = [day[3] for day in digest.per_day]
    ax.bar(positions, mentions, width=0.6, color=ACCENT, alpha=0.35,
           label="mentions")
    ax.bar(positions, complaints, width=0.6, color=COMPLAINT,
           label="complaints")
    ax.plot(positions, previous, color=MUTED, linestyle="--", marker="o",
            markersize=3, linewidth=1, label="mentions, week before")
    ax.set_xticks(positions, labels)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, max(1, *mentions, *previous) * 1.3)  # room for the legend
    ax.set_title("Mentions per day", fontsize=10, color=INK, loc="left")
    ax.legend(fontsize=7, frameon=False, loc="upper left", ncol=3)
    return _png(figure)


def reply_chart(digest: Digest) -> bytes:
    """How long complaints waited for the first public reply, this week and the one before."""
    from matplotlib.ticker import MaxNLocator

    figure, ax = _figure()
    labels = [label for label, _count in digest.response.buckets]
    current = [count for _label, count in digest.response.buckets]
    previous = [count for _label, count in digest.response.previous_buckets]
    positions = list(range(len(labels)))
    ax.bar([p - 0.2 for p in positions], current, width=0.4, color=ACCENT,
           label="this week")
    ax.bar([p + 0.2 for p in positions], previous, width=0.4, color=GRID,
           edgecolor=MUTED, linewidth=0.5, label="week before")
    ax.set_xticks(positions, labels)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, max(1, *current, *previous) * 1.3)
    ax.set_title("Time to first public reply (complaints)", fontsize=10, color=INK,
                 loc="left")
    ax.legend(fontsize=7, frameon=False, loc="upper left", ncol=3)
    return _png(figure)
