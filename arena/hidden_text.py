"""Characters a page shows as nothing, or that turn the text around them: names, cards and file names refuse or
drop them, so that what a person reads is what is stored."""

from __future__ import annotations

import unicodedata

HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Control, format (zero-width, bidirectional), surrogate, private-use, unassigned and line/paragraph separators."""


def is_hidden(ch: str) -> bool:
    return unicodedata.category(ch) in HIDDEN_CATEGORIES
