"""``python -m leadassign``: the ``leadassign`` command."""

from leadassign.cli import main

main()
