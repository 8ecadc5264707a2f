"""The engines that solve the compiled problem: the exact min-cost flow (``flow``, and on a
priced subset of the arcs, ``priced_flows``), Lagrangian searches over flows (``lagrangian``,
``value_band``), the LP relaxation (``lp``), HiGHS' MIP (``mip``), the knapsack branch and
bound (``knapsack``) and CP-SAT (``cpsat``)."""
