"""The solver-neutral linear program and the builder that assembles it from arrays.

    maximise   c·x + offset
    subject to row_lo ≤ A x ≤ row_hi
               col_lo ≤ x ≤ col_hi,  x_j integer where ``integer[j]``

Columns and rows are added a whole labelled block at a time; every row and column has a
structured name (``energy[year=2027,scope=city]``, ``x[P-0001,2027]``) and a family
(``energy``, ``x``), so that every row traces back to its data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class LinearProgram:
    c: np.ndarray
    A: sp.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    integer: np.ndarray
    col_names: list[str]
    row_names: list[str]
    col_family: np.ndarray
    row_family: np.ndarray
    offset: float = 0.0

    @property
    def shape(self) -> tuple[int, int]:
        return self.A.shape

    def objective(self, x: np.ndarray) -> float:
        return float(self.c @ x + self.offset)

    def with_bounds(self, col_lo: np.ndarray, col_hi: np.ndarray) -> LinearProgram:
        return replace(self, col_lo=col_lo, col_hi=col_hi)

    def named(self, x: np.ndarray) -> dict[str, float]:
        """A solution by column name (what ``Settings.start`` takes)."""
        return dict(zip(self.col_names, x.tolist(), strict=True))

    def with_cols(self, A: sp.spmatrix, c: np.ndarray | float, lo: np.ndarray | float,
                  hi: np.ndarray | float, integer: bool, names: Sequence[str],
                  family: str) -> LinearProgram:  # fmt: skip
        """This program with columns appended (``A``: their coefficients in every row)."""
        k = len(names)
        return replace(
            self,
            A=sp.hstack([self.A, A]).tocsr(),
            c=np.r_[self.c, np.broadcast_to(c, (k,))],
            col_lo=np.r_[self.col_lo, np.broadcast_to(lo, (k,))],
            col_hi=np.r_[self.col_hi, np.broadcast_to(hi, (k,))],
            integer=np.r_[self.integer, np.full(k, integer)],
            col_names=[*self.col_names, *names],
            col_family=np.r_[self.col_family, np.full(k, family, dtype=object)],
        )

    def with_rows(self, A: sp.spmatrix, lo: np.ndarray | float, hi: np.ndarray | float,
                  names: Sequence[str], family: str) -> LinearProgram:  # fmt: skip
        """This program with rows appended (``A``: their coefficients on every column)."""
        k = len(names)
        return replace(
            self,
            A=sp.vstack([self.A, A]).tocsr(),
            row_lo=np.r_[self.row_lo, np.broadcast_to(lo, (k,))],
            row_hi=np.r_[self.row_hi, np.broadcast_to(hi, (k,))],
            row_names=[*self.row_names, *names],
            row_family=np.r_[self.row_family, np.full(k, family, dtype=object)],
        )

    def with_value_floor(self, floor: float) -> LinearProgram:
        """This program with the row "objective ≥ floor" (named ``value_floor``)."""
        goal = sp.csr_matrix(self.c[None, :])
        return self.with_rows(goal, floor - self.offset, np.inf, ["value_floor"], "goal")

    def violations(self, x: np.ndarray, tol: float = 1e-6) -> list[str]:
        """Names of rows and columns that ``x`` breaks (a check on the program itself)."""
        ax = self.A @ x
        scale = 1.0 + np.abs(self.A).max(axis=1).toarray().ravel() if self.A.nnz else 1.0
        bad_rows = (ax < self.row_lo - tol * scale) | (ax > self.row_hi + tol * scale)
        bad_cols = (x < self.col_lo - tol) | (x > self.col_hi + tol)
        frac = self.integer & (np.abs(x - np.round(x)) > tol)
        names = [self.row_names[i] for i in np.flatnonzero(bad_rows)]
        return names + [self.col_names[j] for j in np.flatnonzero(bad_cols | frac)]


def label(family: str, **keys: object) -> str:
    """``label("energy", year=2027, scope="city")`` -> ``energy[year=2027,scope=city]``."""
    return family + "[" + ",".join(f"{k}={v}" for k, v in keys.items()) + "]"


@dataclass
class Builder:
    """Collects column and row blocks and the sparse terms that link them."""

    _c: list[np.ndarray] = field(default_factory=list)
    _col_lo: list[np.ndarray] = field(default_factory=list)
    _col_hi: list[np.ndarray] = field(default_factory=list)
    _integer: list[np.ndarray] = field(default_factory=list)
    _col_names: list[str] = field(default_factory=list)
    _col_family: list[str] = field(default_factory=list)
    _row_lo: list[np.ndarray] = field(default_factory=list)
    _row_hi: list[np.ndarray] = field(default_factory=list)
    _row_names: list[str] = field(default_factory=list)
    _row_family: list[str] = field(default_factory=list)
    _terms: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    _bounds: list[tuple[np.ndarray, float | None, float | None]] = field(default_factory=list)
    _cost_changes: list[tuple[np.ndarray, np.ndarray | float]] = field(default_factory=list)
    offset: float = 0.0

    @property
    def n_cols(self) -> int:
        return len(self._col_names)

    @property
    def n_rows(self) -> int:
        return len(self._row_names)

    def add_cols(
        self,
        family: str,
        names: Sequence[str],
        lo: float | np.ndarray = 0.0,
        hi: float | np.ndarray = np.inf,
        cost: float | np.ndarray = 0.0,
        integer: bool = False,
    ) -> np.ndarray:
        """Add one column per name; return their indices."""
        n = len(names)
        start = self.n_cols
        self._c.append(np.broadcast_to(np.asarray(cost, float), (n,)).copy())
        self._col_lo.append(np.broadcast_to(np.asarray(lo, float), (n,)).copy())
        self._col_hi.append(np.broadcast_to(np.asarray(hi, float), (n,)).copy())
        self._integer.append(np.full(n, integer))
        self._col_names.extend(names)
        self._col_family.extend([family] * n)
        return np.arange(start, start + n)

    def add_rows(
        self,
        family: str,
        names: Sequence[str],
        lo: float | np.ndarray = -np.inf,
        hi: float | np.ndarray = np.inf,
    ) -> np.ndarray:
        """Add one row per name; return their indices."""
        n = len(names)
        start = self.n_rows
        self._row_lo.append(np.broadcast_to(np.asarray(lo, float), (n,)).copy())
        self._row_hi.append(np.broadcast_to(np.asarray(hi, float), (n,)).copy())
        self._row_names.extend(names)
        self._row_family.extend([family] * n)
        return np.arange(start, start + n)

    def add_terms(self, rows: np.ndarray, cols: np.ndarray, coefs: np.ndarray | float) -> None:
        """Add coefficients A[rows[k], cols[k]] += coefs[k] (repeated pairs are summed)."""
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        coefs = np.broadcast_to(np.asarray(coefs, float), rows.shape)
        self._terms.append((rows, cols, coefs.copy()))

    def set_bounds(
        self, cols: np.ndarray, lo: float | None = None, hi: float | None = None
    ) -> None:
        """Tighten the bounds of columns already added (applied in order at build)."""
        self._bounds.append((np.asarray(cols, dtype=np.int64), lo, hi))

    def set_cost(self, cols: np.ndarray, cost: np.ndarray | float) -> None:
        """Add to the objective coefficients of columns already added."""
        self._cost_changes.append((np.asarray(cols, dtype=np.int64), cost))

    def build(self) -> LinearProgram:
        def cat(parts: list[np.ndarray], dtype: type = float) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

        rows = cat([t[0] for t in self._terms], np.int64)
        cols = cat([t[1] for t in self._terms], np.int64)
        vals = cat([t[2] for t in self._terms])
        keep = vals != 0
        A = sp.coo_matrix(
            (vals[keep], (rows[keep], cols[keep])), shape=(self.n_rows, self.n_cols)
        ).tocsr()
        A.sum_duplicates()
        A.eliminate_zeros()
        col_lo, col_hi, c = cat(self._col_lo), cat(self._col_hi), cat(self._c)
        for idx, lo, hi in self._bounds:
            if lo is not None:
                col_lo[idx] = lo
            if hi is not None:
                col_hi[idx] = hi
        for idx, cost in self._cost_changes:
            np.add.at(c, idx, cost)
        return LinearProgram(
            c=c,
            A=A,
            row_lo=cat(self._row_lo),
            row_hi=cat(self._row_hi),
            col_lo=col_lo,
            col_hi=col_hi,
            integer=cat(self._integer, bool),
            col_names=list(self._col_names),
            row_names=list(self._row_names),
            col_family=np.array(self._col_family, dtype=object),
            row_family=np.array(self._row_family, dtype=object),
            offset=self.offset,
        )
