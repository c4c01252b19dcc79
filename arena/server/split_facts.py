"""What a competition says of its split: how many test rows are public, and what decided it.

Two things can decide which test rows are public. Usually the competition's ``public_fraction``
does (a keyed hash of each row id, see :mod:`arena.scoring.score`); but when the organiser's
answer file carries a ``Usage`` column, as Kaggle's solution files do, that column decides and
the fraction has no effect. The rules text, the API and the refusal to change the fraction all
read the split from here, so none of them can state a fraction that scoring does not use.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from arena.db.models import Competition


@dataclass(frozen=True)
class Split:
    """The competition's split as scoring uses it."""

    decided_by: str  # "usage" (the answer file's Usage column) or "fraction" (public_fraction)
    public_fraction: float  # the share of scored test rows that are public
    public_rows: int | None  # counted from the Usage column (None: the hash decides, row by row)
    private_rows: int | None
    ignored_rows: int | None

    def to_dict(self) -> dict:
        return asdict(self)

    def sentence(self) -> str:
        """The rules' line about the split, true to what scoring uses."""
        percent = round(self.public_fraction * 100)
        if self.decided_by == "usage":
            ignored = f"; {self.ignored_rows} are ignored (scored on neither)" if self.ignored_rows else ""
            return (
                f"{percent}% of the scored test rows are public ({self.public_rows} public, {self.private_rows} "
                f"private{ignored}), as the organisers' answer file marks them; which ones is secret."
            )
        return f"About {percent}% of test rows are public; which ones is secret."


def usage_counts(answer_key) -> dict[str, int] | None:
    """Public, private and ignored rows as an answer key's Usage column marks them (None: it has none)."""
    public = getattr(answer_key, "usage_public", None)
    if public is None:
        return None
    ignored = getattr(answer_key, "ignored", None)
    ignored_count = int(ignored.sum()) if ignored is not None else 0
    public_count = int((public & ~ignored).sum()) if ignored is not None else int(public.sum())
    return {"public": public_count, "private": len(public) - public_count - ignored_count, "ignored": ignored_count}


def split_of(competition: Competition) -> Split:
    """The split scoring uses: the Usage column's counts stored at hosting, else the competition's fraction."""
    usage = (competition.task_facts or {}).get("usage")
    if usage:
        scored = usage["public"] + usage["private"]
        fraction = usage["public"] / scored if scored else 0.0
        return Split("usage", fraction, usage["public"], usage["private"], usage["ignored"])
    return Split("fraction", competition.public_fraction, None, None, None)
