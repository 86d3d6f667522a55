"""What a run means for people: reason codes, explanation records, the result tables, and
the what-ifs that re-solve (what it would take, frontiers, alternatives, weight ranges).

Everything here is computed from a ``Run`` in memory; ``allocator.writers`` and the report
only write and draw it.
"""
