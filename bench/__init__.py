"""`make bench`: sessiongate's cost as ratios to the irreducible work, measured side by side.

Run with `.venv/bin/python -m bench [--quick]`. Everything talks to a DynamoDB on
127.0.0.1 only (a moto server the bench starts, or `--endpoint`). See bench/README.md.
"""
