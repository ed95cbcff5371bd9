"""The colours that name fora: one per forum, the same in a run's figures and on the
teaching page, so a forum is recognised by its colour wherever it is drawn."""

from __future__ import annotations

# Sixteen colours that stay apart on white (tab10, then six darker or brighter ones);
# beyond them the colours repeat with dashed, then dotted lines.
FORUM_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                 "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000075", "#800000",
                 "#469990", "#f032e6", "#808000", "#e6ab02")
DASHES = ("solid", "dashed", "dotted")


def forum_colour(index: int) -> str:
    """The colour of the forum that came `index`-th (from 0)."""
    return FORUM_PALETTE[index % len(FORUM_PALETTE)]


def forum_dashes(index: int) -> str:
    """Its line style: solid for the first sixteen, then dashed, then dotted."""
    return DASHES[min(index // len(FORUM_PALETTE), len(DASHES) - 1)]
