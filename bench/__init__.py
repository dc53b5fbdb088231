"""Xiaobao's benchmarks: figures against a baseline measured in the same run (bench/run.py)."""
