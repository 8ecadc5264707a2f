"""Errors that reach users, each with the exit code the CLI turns it into."""

from __future__ import annotations

import re


class LeadassignError(Exception):
    """Base class of every error leadassign raises on purpose."""

    exit_code: int = 1


class InputError(LeadassignError):
    """Bad input: a missing file, a malformed table, a value out of range, a bad policy.

    The message names where the problem is, so a user can open the file and fix it:
    ``leads.csv, line 5 (lead_id L0004), column 'value': 'abc' is not a number``.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        where: str | None = None,
        ident: str | None = None,
        column: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.where = where
        self.ident = ident
        self.column = column
        super().__init__(self.render())

    def render(self) -> str:
        place = self.source or ""
        if self.where:
            place = f"{place}, {self.where}" if place else self.where
        if self.ident:
            place = f"{place} ({self.ident})" if place else f"({self.ident})"
        if self.column:
            place = f"{place}, column '{self.column}'" if place else f"column '{self.column}'"
        return f"{place}: {self.message}" if place else self.message

    def __str__(self) -> str:
        return self.render()


#: Characters that act on a terminal instead of showing: C0 controls, DEL, C1 controls (CSI
#: ``\x9b`` among them), the bidirectional embeddings, overrides and isolates (U+202A-U+202E,
#: U+2066-U+2069), the bidi marks (U+061C, U+200E, U+200F) and the line and paragraph
#: separators (U+2028, U+2029).
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_CONTROL_BUT_NEWLINE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, lines: bool = False) -> str:
    """``text`` safe to print on a terminal: every control character (see ``_CONTROL``)
    shown as its escape (``\\x1b``, ``\\u202e``), so an id read from a file cannot move the
    cursor, recolour, ring or reverse the terminal. ``lines``: keep ``\\n`` (text made of
    several lines on purpose, such as a summary); otherwise it is escaped too."""
    return (_CONTROL_BUT_NEWLINE if lines else _CONTROL).sub(_escaped, text)
