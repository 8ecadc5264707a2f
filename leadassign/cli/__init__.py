"""The ``leadassign`` command: each command parses its options, calls one use case of
:mod:`leadassign.app` and prints. No solving logic here.

- :mod:`~leadassign.cli.solve`: solve, rebalance, baseline, validate, demo
- :mod:`~leadassign.cli.history`: history, show, diff, export
- :mod:`~leadassign.cli.scenarios`: compare, frontier
- :mod:`~leadassign.cli.learn`, :mod:`~leadassign.cli.backtest`,
  :mod:`~leadassign.cli.evaluate`: learn from a CRM deal history, replay a past book under
  each plan, and compare a run's holdout with its optimized arm
- :mod:`~leadassign.cli.options`: the shared options; :mod:`~leadassign.cli.errors`: exit
  codes and the one decorator that turns errors into messages;
  :mod:`~leadassign.cli.progress`: the status line and the comparison's board;
  :mod:`~leadassign.cli.report`: what is printed about a result.

Exit codes (DESIGN §4): 0 solved (OPTIMAL or FEASIBLE), 1 internal error, 2 bad input or
usage, 3 INFEASIBLE, 4 no solution within the time limit (or before an interrupt), 5 another
run holds the store.
"""

from __future__ import annotations

import click

from leadassign import __version__
from leadassign.cli import backtest, evaluate, history, learn, route, scenarios, solve
from leadassign.cli.errors import Main


@click.group(
    cls=Main,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="leadassign")
def main() -> None:
    """Decide which sales rep owns which lead: one optimal, proven assignment per cycle.

    \b
    Start with:   leadassign demo
    Then:         leadassign solve --leads leads.csv --reps reps.csv --out run/
    Every week:   leadassign rebalance --leads leads.csv --reps reps.csv --out run/
    """


for _command in (
    solve.solve_command,
    solve.rebalance_command,
    route.route_command,
    history.history_command,
    history.show_command,
    history.diff_command,
    history.export_command,
    solve.baseline_command,
    solve.validate_command,
    solve.demo_command,
    scenarios.compare_command,
    scenarios.frontier_command,
    learn.learn_command,
    evaluate.evaluate_command,
    backtest.backtest_command,
):
    main.add_command(_command)

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover
    main()
