"""The solver backends, and what each can do: the one registry.

Its names are what a scenario's ``solver.backend`` accepts (and so the published schema),
what the command line offers and what the API documents. ``allocator.backends`` imports a
backend's ``module`` on first use. Whatever a backend cannot do is handled in one of two
ways, never dropped silently: a run that needs it is refused with the reason (``frontier``
needs a warm start), or the result says what was done instead (``summary.json``'s
``backend_details``: a single thread used, duals taken from another backend).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Capability(StrEnum):
    WARM_START = "warm_start"  # searches from a known solution (``Settings.start``)
    DUALS = "duals"  # row duals of the linear relaxation
    THREADS = "threads"  # runs on several threads
    DETERMINISTIC = "deterministic"  # same answer for the same inputs, seed and threads
    TIME_LIMIT = "time_limit"  # stops at its time limit with the best solution found


@dataclass(frozen=True)
class BackendSpec:
    name: str
    module: str
    summary: str
    capabilities: frozenset[Capability]

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities


C = Capability
_ALL = frozenset(Capability)
_ONE_THREAD = frozenset({C.DETERMINISTIC, C.TIME_LIMIT})
_SPECS = (
    ("highs", "highs", "HiGHS through highspy", _ALL),
    ("cpsat", "cpsat", "OR-Tools CP-SAT (scaled to integers)", _ALL - {C.DUALS}),
    (
        "ortools_highs",
        "ortools_mip",
        "HiGHS through OR-Tools MathOpt (a child process)",
        _ONE_THREAD,
    ),
    ("ortools_scip", "ortools_mip", "SCIP through OR-Tools", _ONE_THREAD | {C.WARM_START}),
    ("ortools_cbc", "ortools_mip", "CBC through OR-Tools", _ONE_THREAD),
    ("pulp_cbc", "pulp", "CBC through PuLP (cbcbox)", _ALL - {C.DUALS}),
    ("pulp_highs", "pulp", "HiGHS through PuLP", _ONE_THREAD | {C.THREADS}),
)
BACKENDS: dict[str, BackendSpec] = {
    name: BackendSpec(name, f"allocator.backends.{module}", summary, frozenset(capabilities))
    for name, module, summary, capabilities in _SPECS
}
BACKEND_NAMES = tuple(BACKENDS)
