"""Small-number suppression: counts 1..threshold as "c", none recoverable from totals."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["SUPPRESSED", "Counts", "Disclosure", "Group", "Suppression", "protect"]

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

    def within(self, name: Hashable) -> Disclosure:
        """The part of a joint disclosure (see `Counts.add`) under `name`, by its own keys."""
        mine = {k: k[1] for k in self.values if isinstance(k, tuple) and k[0] == name}
        values = {own: self.values[k] for k, own in mine.items()}
        return Disclosure(values, frozenset(own for k, own in mine.items() if k in self.hidden))

    def difference(self, a: Hashable, b: Hashable) -> str:
        """a - b with a sign ('+12', '-40', '0'), 'c' unless both are shown."""
        if a in self.hidden or b in self.hidden:
            return SUPPRESSED
        d = int(self.values[a]) - int(self.values[b])
        return f"{d:+,}" if d else "0"


@dataclass
class Counts:
    """The counts a map publishes, with the sums and differences a reader can form."""

    values: dict[Hashable, int] = field(default_factory=dict)
    groups: list[Group] = field(default_factory=list)
    pairs: list[tuple[Hashable, Hashable]] = field(default_factory=list)

    def add(self, name: Hashable, other: Counts) -> None:
        """Take in another map's counts, each key as (name, key)."""
        self.values |= {(name, k): v for k, v in other.values.items()}
        for g in other.groups:
            parts = [(name, p) for p in g.parts]
            self.groups.append(Group((name, g.total), parts, g.total_first))
        self.pairs += [((name, a), (name, b)) for a, b in other.pairs]

    def same(self, a: Hashable, b: Hashable) -> None:
        """`a` and `b` are one count, published twice (when both are)."""
        if a in self.values and b in self.values:
            self.groups.append(Group(a, [b]))

    def adds_up(self, total: Hashable, terms: Iterable[Hashable]) -> None:
        """`total` is the sum of the published ones of `terms` and of others not published."""
        if total in self.values:
            self.groups.append(Group(total, [t for t in terms if t in self.values]))

    def protect(self, suppression: Suppression, published: Disclosure | None = None) -> Disclosure:
        return protect(
            self.values,
            suppression=suppression,
            groups=self.groups,
            pairs=self.pairs,
            published=published,
        )


def protect(
    values: Mapping[Hashable, int],
    *,
    suppression: Suppression,
    groups: Iterable[Group] = (),
    pairs: Iterable[tuple[Hashable, Hashable]] = (),
    published: Disclosure | None = None,
) -> Disclosure:
    """Decide which published counts to hide (`published`: counts already decided and
    published elsewhere, which stay as they are: more is hidden around them).

    Primary: every count from 1 to the threshold is hidden. Secondary, repeated until nothing
    changes, against what a reader can know: the shown counts, and every hidden count that
    follows from them (a group's one hidden part, from its total and other parts; a hidden
    total, from its parts), over and over. For each known group total, what is left of it
    (total - known parts) must be 0 or above the threshold, and must not pin the hidden parts
    down (each is at least 1, and "c" reads as at most the threshold: n hidden parts adding up
    to n, or to n x threshold, are each known); else the smallest shown part (or the total, see
    `Group`) is hidden too, or, when the total is hidden but known, a shown count of a group it
    is known from. For each pair (a, b) both known, |a - b| must be 0 or above the threshold,
    else the smaller (or what makes it known) is hidden.
    """
    group_list = [Group(g.total, tuple(g.parts), g.total_first) for g in groups]
    pair_list = list(pairs)
    for key in [g.total for g in group_list] + [k for g in group_list for k in g.parts]:
        if key not in values:
            raise KeyError(f"suppression group refers to unknown count {key!r}")
    if not suppression.enabled:
        return Disclosure(values=dict(values), hidden=frozenset())
    hidden = {k for k, v in values.items() if suppression.is_small(v)}
    locked: set[Hashable] = set()
    if published is not None:
        hidden |= published.hidden & values.keys()
        locked = (published.values.keys() & values.keys()) - published.hidden
    # a shown 0 stays shown and adds nothing to what a reader works out: left out of the
    # groups (most of a council's flows to each LA are 0), and so groups of zeros
    zero = {k for k, v in values.items() if v == 0} - hidden
    group_list = [
        Group(g.total, tuple(p for p in g.parts if p not in zero), g.total_first)
        for g in group_list
        if g.total not in zero
    ]

    def unshown(keys: Iterable[Hashable], source: dict[Hashable, Group]) -> Hashable | None:
        """The smallest shown nonzero count among `keys`, or else of the groups that make a
        hidden one of them known (followed back as far as needed)."""
        seen: set[Hashable] = set()
        todo = list(keys)
        while todo:
            shown = [k for k in todo if k not in hidden and k not in locked and values[k] > 0]
            if shown:
                return min(shown, key=lambda k: values[k])
            seen.update(todo)
            todo = [
                k
                for key in todo
                if key in source
                for k in (source[key].total, *source[key].parts)
                if k not in seen
            ]
        return None

    def known(key: Hashable, group: Group, source: dict[Hashable, Group]) -> bool:
        """Shown, or worked out from a group other than `group`."""
        return key not in hidden or (key in source and source[key] is not group)

    complete = [g for g in group_list if values[g.total] == sum(values[p] for p in g.parts)]
    index: dict[Hashable, list[int]] = {}
    for i, g in enumerate(complete):
        for k in {g.total, *g.parts}:
            index.setdefault(k, []).append(i)
    while True:
        source = _derivable(complete, hidden, index)
        add: set[Hashable] = set()
        for key, group in source.items():  # a small total worked out from its parts
            if key == group.total and suppression.is_small(values[key]):
                victim = unshown(group.parts, source)
                if victim is not None:
                    add.add(victim)
        for group in group_list:
            total, parts = group.total, group.parts
            if not known(total, group, source):
                continue
            unknown = [p for p in parts if not known(p, group, source)]
            remainder = values[total] - sum(values[p] for p in parts if p not in unknown)
            n = sum(1 for p in unknown if values[p] != 0)
            pinned = n > 0 and remainder in (n, n * suppression.threshold)
            if not (suppression.is_small(remainder) or pinned):
                continue
            shown = [p for p in parts if p not in hidden | locked and values[p] > 0]
            if total not in hidden | locked and (group.total_first or not shown):
                add.add(total)
            else:
                victim = unshown(shown or [total], source)
                if victim is not None:
                    add.add(victim)
        for a, b in pair_list:
            both = all(k not in hidden or k in source for k in (a, b))
            if both and suppression.is_small(values[a] - values[b]):
                smaller = b if values[b] <= values[a] else a
                victim = unshown([smaller, a if smaller == b else b], source)
                if victim is not None:
                    add.add(victim)
        if not add - hidden:
            # what a reader works out anyway is shown, rather than "c" beside its value
            return Disclosure(values=dict(values), hidden=frozenset(hidden - set(source)))
        hidden |= add


def _derivable(
    complete: list[Group], hidden: set[Hashable], index: Mapping[Hashable, list[int]]
) -> dict[Hashable, Group]:
    """Every hidden count a reader can work out from the shown ones, with the group it comes
    from: a group's one unknown part (from a known total), or its total (from known parts),
    in `complete` groups (whose parts are all published: they add up to the total; `index`:
    the groups each count is in)."""
    source: dict[Hashable, Group] = {}
    unknown: dict[int, set[Hashable]] = {}
    for key in hidden:
        for i in index.get(key, ()):
            unknown.setdefault(i, set()).add(key)
    todo = deque(sorted(i for i, keys in unknown.items() if len(keys) == 1))
    while todo:
        i = todo.popleft()
        if len(unknown[i]) != 1:
            continue
        (key,) = unknown[i]
        source[key] = complete[i]
        for j in index[key]:  # now known in every group it is in
            unknown[j].discard(key)
            if len(unknown[j]) == 1:
                todo.append(j)
    return source
