"""Heuristics over the compiled problem: greedy repair and fill (``repair``), the fairness
draft (``draft``) and local search by moves (``moves``)."""
