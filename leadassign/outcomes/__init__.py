"""Outcomes: the CRM deal history (who owned which deal, won or lost, when, for how much),
and what leadassign learns from it and checks against it."""
