"""Sceau benchmarks: each module is runnable (``python -m bench.<name>``) and measures its
ceiling or peer in the same run.  ``python -m bench.run_all`` runs them all; results are
printed and written to ``bench/results/<name>.json``.  See ``docs/benchmarks.md``.
"""
