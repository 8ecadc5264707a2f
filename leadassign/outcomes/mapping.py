"""Reading a CRM export as a deal history: column mappings and presets.

:func:`load_history` is the one entry point commands use: ``columns`` is None (the table
already has the canonical columns of :mod:`~leadassign.outcomes.deals`), a mapping file, or
a preset's name.
"""

from __future__ import annotations

from pathlib import Path

from leadassign.errors import InputError
from leadassign.models.source import TableInput
from leadassign.outcomes.deals import Deals, load_deals


def load_history(data: TableInput, columns: str | Path | None = None) -> Deals:
    """The validated deal history of ``data``, renamed by the mapping ``columns``."""
    if columns is not None:
        raise InputError("column mappings are not available yet", source=str(columns))
    return load_deals(data)


__all__ = ["load_history"]
