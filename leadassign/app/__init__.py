"""The use cases: what each ``leadassign`` command does, as functions a notebook can call.

- :mod:`~leadassign.app.inputs`: ``Inputs`` (the tables and policy as paths) and ``load``.
- :mod:`~leadassign.app.runs`: ``run`` / ``execute`` — solve and rebalance, recorded in the
  store, re-runs, rule prices.
- :mod:`~leadassign.app.baseline`, :mod:`~leadassign.app.validate`,
  :mod:`~leadassign.app.demo`: the other single-book commands.
- :mod:`~leadassign.app.scenario`: compare and frontier.
- :mod:`~leadassign.app.holdout`: the randomized holdout of solve and rebalance
  (``solve_with_holdout``); :mod:`~leadassign.app.evaluate`: its arms compared on a deal
  history (``evaluate``).
- :mod:`~leadassign.app.history`: history, show, diff and export reads of the store;
  :mod:`~leadassign.app.export`: the CRMs' owner-update file formats.
- :mod:`~leadassign.app.interrupt`: SIGINT/SIGTERM into a ``Stop``, the grace period and
  the abandon path.

The CLI (``leadassign.cli``) parses options, calls one of these and prints; ``store/`` only
persists.
"""

from leadassign.app.inputs import Inputs, load
from leadassign.app.interrupt import interruptible
from leadassign.app.runs import Outcome, execute, run

__all__ = ["Inputs", "Outcome", "execute", "interruptible", "load", "run"]
