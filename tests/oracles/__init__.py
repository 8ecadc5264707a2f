"""Independent references that the tests hold leadassign against, sharing no code with its
solver.

- ``eligibility``: which rep may take which lead, and at what expected value and effort,
  recomputed from the tables (plain loops and pandas merges).
- ``rules``: every business rule evaluated lead by lead with exact fractions, and a brute
  force over every assignment of a tiny book.
- ``milp``: the business rules as an exact MILP solved by HiGHS (scipy).
- ``books``: random books with every rule, and the policies the tests share.
- ``checker``: leadassign's answer, solved and rechecked by the independent validator
  (``leadassign.check``).
- ``gap``: an OR-Library generalized assignment instance with its proven optimum.
"""
