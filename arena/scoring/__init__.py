"""The scoring library: task bundles, data sources, splits, metrics, reading predictions, scoring, statistics.

numpy, pandas, pyarrow, scipy and scikit-learn only: no web, no database, no JAX.
"""
