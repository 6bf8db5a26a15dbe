"""`python -m bench`: the benchmark suite (bench/run.py)."""

from bench import run

run.main()
