"""Validated inputs: tables, policy and the problem they make together."""

from leadassign.models.policy import Policy, SolverPolicy, ValuePolicy, load_policy
from leadassign.models.problem import PairsMode, Problem, lead_values, load_problem
from leadassign.models.source import TableSource, read_table
from leadassign.models.tables import AffinityTable, LeadTable, PairTable, RepTable

__all__ = [
    "AffinityTable",
    "LeadTable",
    "PairTable",
    "PairsMode",
    "Policy",
    "Problem",
    "RepTable",
    "SolverPolicy",
    "TableSource",
    "ValuePolicy",
    "lead_values",
    "load_policy",
    "load_problem",
    "read_table",
]
