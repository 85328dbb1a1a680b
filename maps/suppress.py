"""Small-number suppression: counts 1..threshold as "c", none recoverable from totals."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["SUPPRESSED", "Disclosure", "Group", "Suppression", "protect"]

SUPPRESSED = "c"


class Group(NamedTuple):
    """A published total and the published parts it is made of (other parts may exist but are
    not shown). Whatever of the total is not shown as a part is recoverable by subtraction, so
    it must be 0 or more than the threshold; when it is not, the smallest shown part is hidden
    too, or the total first when `total_first` (e.g. a total nobody needs as a denominator)."""

    total: Hashable
    parts: Sequence[Hashable]
    total_first: bool = False


@dataclass(frozen=True)
class Suppression:
    """Which counts a map may show: `enabled` for public maps, off for internal ones."""

    threshold: int = 5
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise ValueError(f"suppression threshold must be >= 0, got {self.threshold}")

    def is_small(self, value: float) -> bool:
        """True for a count from 1 to the threshold (when suppression is on)."""
        return self.enabled and 0 < abs(value) <= self.threshold

    def format(self, value: int) -> str:
        """A standalone count (no published total to protect): 'c' when small."""
        return SUPPRESSED if self.is_small(value) else f"{int(value):,}"

    @property
    def note(self) -> str:
        """The legend line that explains "c" (no digit that could be read as a count)."""
        if not self.enabled:
            return "Internal map: counts are exact and not for publication."
        return "c: a small number, suppressed to protect children's privacy."


@dataclass(frozen=True)
class Disclosure:
    """The outcome of `protect`: values and the keys that must be shown as "c"."""

    values: Mapping[Hashable, int]
    hidden: frozenset[Hashable]

    def shown(self, key: Hashable) -> bool:
        return key not in self.hidden

    def count(self, key: Hashable) -> str:
        """'c' when hidden, else the count with thousands separators."""
        return SUPPRESSED if key in self.hidden else f"{int(self.values[key]):,}"

    def rate(self, part: Hashable, whole: Hashable) -> str:
        """part / whole as a whole percentage, 'c' unless both are shown, 'n/a' for 0 / 0."""
        if part in self.hidden or whole in self.hidden:
            return SUPPRESSED
        den = self.values[whole]
        if den == 0:
            return "n/a"
        return f"{100.0 * self.values[part] / den:.0f}%"

    def ratio(self, part: Hashable, whole: Hashable) -> float:
        """part / whole for colouring, NaN when hidden or undefined (drawn as "c" grey)."""
        if part in self.hidden or whole in self.hidden or self.values[whole] == 0:
            return math.nan
        return float(self.values[part]) / float(self.values[whole])

    def difference(self, a: Hashable, b: Hashable) -> str:
        """a - b with a sign ('+12', '-40', '0'), 'c' unless both are shown."""
        if a in self.hidden or b in self.hidden:
            return SUPPRESSED
        d = int(self.values[a]) - int(self.values[b])
        return f"{d:+,}" if d else "0"


def protect(
    values: Mapping[Hashable, int],
    *,
    suppression: Suppression,
    groups: Iterable[Group] = (),
    pairs: Iterable[tuple[Hashable, Hashable]] = (),
) -> Disclosure:
    """Decide which published counts to hide.

    Primary: every count from 1 to the threshold is hidden. Secondary, repeated until nothing
    changes: for each shown group total, the part a reader can recover by subtraction
    (total - shown parts) must be 0 or above the threshold, else the smallest shown part (or
    the total, see `Group`) is hidden too; for each pair (a, b) whose difference is shown or
    recoverable, |a - b| must be 0 or above the threshold, else the smaller is hidden.
    """
    group_list = [Group(g.total, tuple(g.parts), g.total_first) for g in groups]
    pair_list = list(pairs)
    for key in [g.total for g in group_list] + [k for g in group_list for k in g.parts]:
        if key not in values:
            raise KeyError(f"suppression group refers to unknown count {key!r}")
    if not suppression.enabled:
        return Disclosure(values=dict(values), hidden=frozenset())
    hidden = {k for k, v in values.items() if suppression.is_small(v)}
    changed = True
    while changed:
        changed = False
        for total, parts, total_first in group_list:
            if total in hidden:
                continue
            shown = [p for p in parts if p not in hidden]
            remainder = values[total] - sum(values[p] for p in shown)
            if not suppression.is_small(remainder):
                continue
            candidates = [p for p in shown if values[p] > 0]
            if total_first or not candidates:
                victim = total
            else:
                victim = min(candidates, key=lambda p: values[p])
            hidden.add(victim)
            changed = True
        for a, b in pair_list:
            if a in hidden or b in hidden:
                continue
            if suppression.is_small(values[a] - values[b]):
                hidden.add(b if values[b] <= values[a] else a)
                changed = True
    return Disclosure(values=dict(values), hidden=frozenset(hidden))
