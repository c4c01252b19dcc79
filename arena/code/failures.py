"""Why a participant's program produced no predictions, in fixed words a participant may read.

A program's output, and the exact reason it failed, can carry the hidden test inputs it read: a
participant sees only one of the fixed messages below, chosen by the verdict. The exact reason
(``detail``) and the program's output (``log``) are for the organiser, and for the participant only
where the task's log policy allows it (:func:`log_shown`).
"""

from __future__ import annotations

from arena.errors import SubmissionError

TIME, MEMORY, ERROR, OUTPUT = "time", "memory", "error", "output"
VERDICTS = (TIME, MEMORY, ERROR, OUTPUT)

TIME_MESSAGE = "your program ran past the task's time limit. Make it faster, then submit again."
MEMORY_MESSAGE = (
    "your program ran out of memory: it reached the task's memory limit. Use less memory, then submit again."
)
ERROR_MESSAGE = (
    "your program stopped with an error. Run it on the public sample with `arena run` or a dry run on the server "
    "to see its output, fix it, then submit again."
)
OUTPUT_MESSAGE = (
    "your program did not write one valid predictions file to output_dir. Run it on the public sample with "
    "`arena run` or a dry run on the server, which check the file, then submit again."
)
OURS_MESSAGE = "Arena could not run your program this time; it is not your doing, does not count, and is tried again."
MESSAGES = {TIME: TIME_MESSAGE, MEMORY: MEMORY_MESSAGE, ERROR: ERROR_MESSAGE, OUTPUT: OUTPUT_MESSAGE}
"""The one message a participant sees for each verdict of a failed run on the test inputs."""


class CodeFailed(SubmissionError):
    """A participant's program produced no usable predictions.

    Its problems are the one fixed message of its verdict (``time``, ``memory``, ``error`` or ``output``), or
    :data:`OURS_MESSAGE` when ``ours``: the sandbox failed, which never counts against the participant and is
    retried. ``detail`` is the exact reason and ``log`` the program's output: for the organiser only.
    """

    headline = "Your program could not be scored"

    def __init__(self, verdict: str, *, detail: str = "", log: str = "", ours: bool = False) -> None:
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}")
        super().__init__(OURS_MESSAGE if ours else MESSAGES[verdict])
        self.verdict = verdict
        self.detail = detail
        self.log = log
        self.ours = ours


def log_shown(logs: str, sample: bool) -> bool:
    """Whether a participant may read the program's output: on the public sample always, on the test inputs only
    when the task's ``logs`` policy is ``"always"``."""
    return sample or logs == "always"
