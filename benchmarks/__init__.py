"""asynclambda's benchmarks: a shared harness, the floors, and one scenario script per idea.

``python -m benchmarks --help``; see benchmarks/README.md.
"""
