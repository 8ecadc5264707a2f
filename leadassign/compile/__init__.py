"""The solver-neutral problem: eligible pairs after the pair rules (``candidates``,
``prepare``), scaled to integers (``scaling``), as index arrays with one spec per side rule
(``pairs``), built once by :func:`~leadassign.compile.prepare.prepare`."""
