"""Side-by-side benchmarks of spinlens against peers (never part of ``make test``)."""
