"""Benchmark suites: a versioned set of tasks (``suite.toml``), the models entered in it (model cards), and
each model's aggregate over the tasks with an interval from one joint bootstrap of every task's rows.

Library code only (numpy, no web, no database): :mod:`.spec` reads a suite, :mod:`.cards` a model card,
:mod:`.scales` puts every task on one scale, :mod:`.aggregate` combines the tasks, :mod:`.board` resamples
them jointly for every model, :mod:`.analysis` compares models on those resamples, :mod:`.figures` draws the
critical-difference diagram and the performance profile as SVG, :mod:`.exports` writes tables for papers,
:mod:`.efficiency` weighs scores against costs, and :mod:`.local` scores a folder of predictions on this
machine.
"""
