"""Code submissions: a participant's program, run by Arena in the sandbox on test inputs they never see.

``uploads`` checks an uploaded program; ``inputs`` writes what the program reads (the public sample for a dry run);
``runner`` runs it and says why it failed in fixed, neutral words; ``outputs`` finds and validates its predictions.
"""
