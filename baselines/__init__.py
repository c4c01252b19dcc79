"""Reference baselines in JAX / Flax NNX: a CNN, RNNs (GRU, LSTM), a Transformer and an MLP.

They use ``arena`` exactly as a participant's script would: load a task, train, write
a predictions file in the task's submission format, and optionally submit it.
"""
