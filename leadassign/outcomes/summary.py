"""A deal history described in words: what ``leadassign validate --history`` prints."""

from __future__ import annotations

import numpy as np

from leadassign.outcomes.deals import Deals
from leadassign.outcomes.mapping import MappedHistory


def _span(dates: np.ndarray) -> str:
    known = dates[~np.isnat(dates)]
    if len(known) == 0:
        return "none"
    return f"{known.min()} .. {known.max()}"


def describe_history(deals: Deals, mapped: MappedHistory | None = None) -> str:
    """Counts, date ranges, segment columns and (when read through a mapping) the stages."""
    closed = deals.is_closed
    won = int(deals.won.sum())
    lost = int((deals.outcome == "lost").sum())
    n_open = int((~closed).sum())
    reps = len(np.unique(deals.rep))
    reps_closed = len(np.unique(deals.rep[closed]))
    lines = [
        f"valid history: {len(deals):,} deals ({int(closed.sum()):,} closed: {won:,} won, "
        f"{lost:,} lost; {n_open:,} open), {reps} reps ({reps_closed} with closed deals)",
        f"created {_span(deals.created)}; closed {_span(deals.closed)}",
    ]
    known = ~np.isnan(deals.amount)
    if known.any():
        lines.append(
            f"amount known on {int(known.sum()):,} deals (total {deals.amount[known].sum():,.0f})"
        )
    else:
        lines.append("amount: none")
    if deals.segments:
        parts = []
        for name, values in deals.segments.items():
            empty = int((values == "").sum())
            distinct = len(np.unique(values[values != ""]))
            parts.append(f"{name} {distinct} values" + (f" ({empty:,} empty)" if empty else ""))
        lines.append("segments: " + "; ".join(parts))
    else:
        lines.append("segments: none")
    no_created = int((np.isnat(deals.created) & ~closed).sum())
    lines.append(f"open deals with no created date: {no_created:,}")
    if mapped is not None:
        stages = ", ".join(f"{s.stage} -> {s.outcome} {s.deals:,}" for s in mapped.stages)
        lines.append(f"stages ({mapped.stage_column}, mapping {mapped.mapping}): {stages}")
        if mapped.dropped_close_dates:
            lines.append(
                f"close dates dropped on open deals (forecast dates): "
                f"{mapped.dropped_close_dates:,}"
            )
        if mapped.skipped_segments:
            lines.append("optional segments not in the file: " + ", ".join(mapped.skipped_segments))
    return "\n".join(lines)


__all__ = ["describe_history"]
