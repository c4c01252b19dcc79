"""Reading predictions and scoring them: validating a file against the answer key, score(), the Score result, and one-pass sums for large uploads.

numpy, pandas, pyarrow, scipy and scikit-learn only: no web, no database, no JAX.
"""
