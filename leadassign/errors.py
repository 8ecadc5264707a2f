"""Errors that reach users, each with the exit code the CLI turns it into."""

from __future__ import annotations


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
