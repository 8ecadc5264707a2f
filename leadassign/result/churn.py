"""Churn in one place: what happened to each lead's owner, in the words docs/data.md defines.

Every figure of churn that leadassign prints or writes (summary.json ``churn``, the summary a
command prints, ``history show``, ``diff``, the churn chart of report.html) comes from
:func:`churn_labels` and :func:`churn_counts`, so the same book gives the same figures
everywhere. Per lead, from its owner before (``current_owner``, or the earlier run's rep) and
its rep after:

- ``kept``: the same rep before and after;
- ``moved``: had a rep before, another rep after;
- ``released``: had a rep before, none after, and no hard rule held it back;
- ``held_back``: had a rep before, none after, because a hard rule (a fairness band, an
  account cap) held it back: every eligible rep with room would have broken it;
- ``new``: had no rep before, has one after;
- ``''``: no rep before and none after (nothing changed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

KEPT = "kept"
MOVED = "moved"
RELEASED = "released"
HELD_BACK = "held_back"
NEW = "new"
#: The churn words, in the order they are printed and charted.
WORDS = (KEPT, MOVED, RELEASED, HELD_BACK, NEW)


def churn_labels(before: np.ndarray, after: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Per lead: its churn word (or '' when it had no rep and has none). ``before`` and
    ``after`` are rep ids ('' for none); ``held`` marks the leads a hard rule held back."""
    before = np.asarray(before, dtype=object)
    after = np.asarray(after, dtype=object)
    had, has = before != "", after != ""
    label = np.full(len(before), "", dtype=object)
    label[had & has & (before == after)] = KEPT
    label[had & has & (before != after)] = MOVED
    label[had & ~has] = RELEASED
    label[had & ~has & np.asarray(held, dtype=bool)] = HELD_BACK
    label[~had & has] = NEW
    return label


def churn_counts(labels: np.ndarray) -> dict[str, int]:
    """How many leads got each churn word, in :data:`WORDS` order."""
    return {word: int((labels == word).sum()) for word in WORDS}


def churn_line(churn: dict[str, Any]) -> str:
    """The churn of summary.json's ``churn`` block in one line, as every command prints it."""
    words = ", ".join(f"{word.replace('_', ' ')} {churn.get(word, 0)}" for word in WORDS)
    line = f"owners: {words} (of {churn['owned']} owned leads"
    if churn.get("forced_moves"):
        line += (
            f"; {churn['forced_moves']} forced: owner on leave, away, leaving or not "
            "eligible, or past the SLA"
        )
    line += ")"
    allowed = churn.get("changes_allowed")
    line += f"; changes {churn['changes']}" + (
        f" (at most {allowed} allowed)" if allowed is not None else ""
    )
    return line


__all__ = ["HELD_BACK", "KEPT", "MOVED", "NEW", "RELEASED", "WORDS", "churn_counts", "churn_labels"]
