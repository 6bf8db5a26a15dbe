"""Benchmarks: JAX/Flax vs PyTorch eager on CPU (see bench/STUDY.md).

torch is an optional, bench-only dependency: modules import it lazily.
"""
