"""The outcomes a user must act on, as one hierarchy.

Each is caught by type where the work was asked for: the command line turns it into its
exit code (``exit_code``), the API into its status. Anything else that escapes is a bug
of ours, never a mistake in the user's data: the CLI exits 1 and the API answers 500,
both with an error id that the log repeats beside the traceback (``internal_error``).
"""

from __future__ import annotations

import logging
import secrets

from models.tables import Problem

log = logging.getLogger("allocator")


class AllocatorError(Exception):
    """An outcome the user must act on (not a bug)."""

    exit_code = 1


class InputError(AllocatorError):
    """The input breaks one or more rules; ``problems`` lists every one of them."""

    exit_code = 2

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class Infeasible(AllocatorError):
    """The scenario's rules cannot all hold at once (the diagnosis says which give way)."""

    exit_code = 3


class NoSolution(AllocatorError):
    """The solver reached its limit without finding a solution."""


class SolverError(AllocatorError):
    """The solver failed, or the evaluator rejected what it returned."""


def internal_error(exc: BaseException) -> str:
    """Log a bug with its traceback under a new error id; return the id."""
    error_id = "E-" + secrets.token_hex(6)
    log.error("internal error %s", error_id, exc_info=(type(exc), exc, exc.__traceback__))
    return error_id
