"""Benchmarks: scripts that print figures and ratios side by side in one run (not timed unit tests)."""
