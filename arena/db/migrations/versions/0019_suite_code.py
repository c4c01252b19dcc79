"""Suite entries run as code: a model's program per task, its measured costs

No table changes: whether a submission is a code run is its own ``run_status`` (revision 0013), set when it is
accepted, so a suite task's competition takes a model's program while it takes files from everyone else; what a
run measured is already on the submission, and a version run as code from end to end is entered at the existing
``reproduced`` tier. This revision keeps its place in the chain.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from __future__ import annotations

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
