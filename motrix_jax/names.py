"""The "did you mean" hint of error messages that name an unknown field or env."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, known: Iterable[str], cutoff: float = 0.6) -> str:
    """" (did you mean 'x'?)" for the entry of `known` nearest to `name`, or "" when
    none is close enough (difflib's ratio below `cutoff`)."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""
