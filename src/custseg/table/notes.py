"""Notes about rows and columns that are not cell errors.

Repeated customer ids, spreadsheet summary rows, an income column that holds dollars
while its header names no unit, and one written in another currency throughout.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custseg.errors import shown
from custseg.table.fields import ID
from custseg.table.parse import (
    MISSING,
    OTHER_CURRENCY,
    currency_of,
    parse_numbers,
    to_arrow_text,
)


def row_keys(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash per row of the field cells other than the id, as written."""
    cols = [c for c in frame.columns if c != ID]
    if not cols:
        return np.zeros(len(frame), dtype=np.uint64)
    text = pd.DataFrame(
        {c: pd.Series(to_arrow_text(frame[c]).to_pandas(), dtype="str") for c in cols}
    )
    return pd.util.hash_pandas_object(text, index=False).to_numpy()


def duplicate_notes(
    ids: pd.Series | pa.Array | pa.ChunkedArray,
    keys: np.ndarray | None = None,
    offset: int = 0,
) -> dict[int, str]:
    """Notes for rows whose customer id appears more than once, keyed by row position.

    Rows are numbered from 1 (the first row after the header), plus ``offset``. With
    ``keys`` (see :func:`row_keys`), each note says whether the other rows carry the same
    values or conflicting ones. Linear in the rows, whatever the ids (see
    :class:`RepeatedIds`, which a caller reading batches uses directly).
    """
    text = id_text(ids)
    counts = IdCounts()
    counts.add(text)
    repeated = counts.repeated()
    if not len(repeated):
        return {}
    groups = RepeatedIds(repeated)
    groups.add(text, 0, None if keys is None else np.asarray(keys).__getitem__)
    out: dict[int, str] = {}
    for start in range(0, len(text), _NOTE_ROWS):  # in slices: bounded temporaries
        part = groups.notes(text.slice(start, _NOTE_ROWS), start, offset)
        out.update(zip([start + k for k in part], part.values(), strict=True))
    return out


#: Rows whose notes are built at once by :func:`duplicate_notes`.
_NOTE_ROWS = 1 << 16


# --------------------------------------------------------------------- repeated ids
#
# A file of any length is searched for repeated ids in two passes of bounded memory:
# :class:`IdCounts` keeps one 64-bit hash per distinct id and finds the hashes seen twice;
# :class:`RepeatedIds` then keeps, for each of those, the first rows, the count and
# whether the values differ; it gives each batch's notes when the batch is scored. Only the
# few facts of a note are held per repeated id, never a note per row, and a group of n
# rows costs O(n): the note of a row lists at most :data:`LISTED_ROWS` others.

#: Other rows of a repeated id that each of its notes lists by number; the rest are counted.
LISTED_ROWS = 5
#: Distinct ids the search for repeats remembers, 8 bytes each: an id first seen after
#: that many is not checked (a file-level warning says so).
MAX_TRACKED_IDS = 20_000_000
#: Repeated ids whose notes list their rows (about 80 bytes each); the rows of any further
#: repeated id get a note without row numbers (a file-level warning says so).
MAX_LISTED_IDS = 1_000_000

_U64 = np.uint64
#: The hash space in 16 parts, each merged on its own, so that adding ids to what is
#: remembered costs a sixteenth of it in temporary memory.
_PART_EDGES = np.arange(1, 16, dtype=_U64) << _U64(60)
#: Bytes of id text hashed at a time (the hashing holds 8 bytes per byte of text).
_HASH_BYTES = 1 << 22
_POWERS = np.cumprod(np.full(4_096, 0x100000001B3, dtype=_U64), dtype=_U64)


def id_text(ids: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    """Ids as one arrow string array (null where missing)."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks() if ids.num_chunks != 1 else ids.chunk(0)
    if not isinstance(ids, pa.Array):
        return to_arrow_text(pd.Series(ids).reset_index(drop=True))
    return ids if ids.type in (pa.string(), pa.large_string()) else ids.cast(pa.string())


def id_hashes(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``(usable, hashes)``: whether each id is non-blank, and a 64-bit hash of its text
    (vectorised, in bounded memory; equal texts have equal hashes)."""
    trimmed = pc.utf8_trim_whitespace(text)
    usable = pc.fill_null(pc.not_equal(trimmed, ""), False).to_numpy(zero_copy_only=False)
    if text.type != pa.large_string():
        text = text.cast(pa.large_string())
    n = len(text)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset:text.offset + n + 1]
    data = (np.frombuffer(text.buffers()[2], dtype=np.uint8) if text.buffers()[2] is not None
            else np.empty(0, dtype=np.uint8))
    lengths = np.diff(offsets)
    hashes = np.zeros(n, dtype=_U64)
    if not n:
        return usable, hashes
    with np.errstate(over="ignore"):
        end = int(offsets[-1])
        for lo in range(int(offsets[0]), end, _HASH_BYTES):
            hi = min(lo + _HASH_BYTES, end)
            # the rows that own bytes lo..hi, and each byte's place within its row
            first = int(np.searchsorted(offsets, lo, side="right")) - 1
            last = int(np.searchsorted(offsets, hi, side="left"))
            cuts = np.clip(offsets[first:last + 1], lo, hi)
            owners = np.arange(first, last)
            sizes = np.diff(cuts)
            owners, cuts, sizes = owners[sizes > 0], cuts[:-1][sizes > 0], sizes[sizes > 0]
            place = np.arange(lo, hi) - np.repeat(offsets[owners], sizes)
            part = data[lo:hi].astype(_U64) * _POWERS[np.minimum(place, len(_POWERS) - 1)]
            hashes[owners] += np.add.reduceat(part, cuts - lo)  # each owner once
        hashes ^= lengths.astype(_U64) * _U64(0x9E3779B97F4A7C15)
        hashes ^= hashes >> _U64(31)
        hashes *= _U64(0xBF58476D1CE4E5B9)
        hashes ^= hashes >> _U64(29)
    hashes[~usable] = 0
    return usable, hashes


def _exact_hashes(text: pa.Array) -> np.ndarray:
    """A second, independent 64-bit hash (SipHash) of each text: two ids with the same
    :func:`id_hashes` and the same one here are taken as the same id."""
    encoded = pc.dictionary_encode(text)
    values = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    if not len(values):
        return np.zeros(len(text), dtype=_U64)
    per_value = pd.util.hash_array(values, categorize=False)
    indices = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False)
    return np.asarray(per_value, dtype=_U64)[indices]


class IdCounts:
    """First pass: which ids occur more than once, from the hashes of distinct ids.

    Memory is 8 bytes a distinct id, up to ``limit`` of them (default
    :data:`MAX_TRACKED_IDS`; then :attr:`truncated`).
    Counts made over separate files combine with :meth:`merge`.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.limit = MAX_TRACKED_IDS if limit is None else limit
        self.n_rows = 0
        #: Whether an id went unchecked because ``limit`` distinct ids were already held.
        self.truncated = False
        parts = len(_PART_EDGES) + 1
        self._seen = [np.empty(0, dtype=_U64) for _ in range(parts)]
        self._pending: list[list[np.ndarray]] = [[] for _ in range(parts)]
        self._n_pending = [0] * parts
        self._tracked = 0
        self._repeated: list[np.ndarray] = []
        self._n_repeated = 0

    def add(self, ids: pd.Series | pa.Array | pa.ChunkedArray) -> None:
        """Count one batch of ids (blank ones are no id)."""
        text = id_text(ids)
        self.n_rows += len(text)
        usable, hashes = id_hashes(text)
        self._add(hashes[usable])

    def merge(self, other: IdCounts) -> None:
        """Add the counts of another file."""
        self.n_rows += other.n_rows
        self.truncated |= other.truncated
        other._compact_all()
        self._note_repeated(other.repeated())
        self._add_distinct(np.concatenate(other._seen))

    def repeated(self) -> np.ndarray:
        """The sorted hashes seen more than once."""
        self._compact_all()
        return self._repeated[0] if self._repeated else np.empty(0, dtype=_U64)

    def _add(self, hashes: np.ndarray) -> None:
        if not len(hashes):
            return
        distinct, counts = np.unique(hashes, return_counts=True)
        self._note_repeated(distinct[counts > 1])
        self._add_distinct(distinct)

    def _add_distinct(self, distinct: np.ndarray) -> None:
        """Sorted, distinct hashes: those already seen are repeats, the others are kept."""
        bounds = [0, *np.searchsorted(distinct, _PART_EDGES).tolist(), len(distinct)]
        for p, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            new = distinct[lo:hi]
            seen = self._seen[p]
            if len(new) and len(seen):
                at = np.minimum(np.searchsorted(seen, new), len(seen) - 1)
                known = seen[at] == new
                self._note_repeated(new[known])
                new = new[~known]
            room = self.limit - self._tracked
            if len(new) > room:
                self.truncated = True
                new = new[:max(room, 0)]
            if not len(new):
                continue
            self._pending[p].append(new)
            self._n_pending[p] += len(new)
            self._tracked += len(new)
            if self._n_pending[p] > max(len(seen) // 2, 1 << 16):
                self._compact(p)

    def _note_repeated(self, hashes: np.ndarray) -> None:
        if not len(hashes):
            return
        self._repeated.append(hashes)
        self._n_repeated += len(hashes)
        if len(self._repeated) > 64 or self._n_repeated > 1 << 20:
            self._repeated = [np.unique(np.concatenate(self._repeated))]
            self._n_repeated = len(self._repeated[0])

    def _compact(self, p: int) -> None:
        """Fold part ``p``'s pending hashes into the sorted ones (a hash pending twice is
        a repeat: two batches each saw it first)."""
        if not self._pending[p]:
            return
        pending = np.concatenate(self._pending[p])
        distinct, counts = np.unique(pending, return_counts=True)
        self._note_repeated(distinct[counts > 1])
        self._tracked -= len(pending) - len(distinct)
        merged = np.concatenate([self._seen[p], distinct])
        merged.sort()
        self._seen[p], self._pending[p], self._n_pending[p] = merged, [], 0

    def _compact_all(self) -> None:
        for p in range(len(self._seen)):
            self._compact(p)
        if len(self._repeated) > 1:
            self._repeated = [np.unique(np.concatenate(self._repeated))]
        elif self._repeated:
            self._repeated = [np.unique(self._repeated[0])]
        self._n_repeated = len(self._repeated[0]) if self._repeated else 0

    def warnings(self) -> list[str]:
        if not self.truncated:
            return []
        return [f"the input has more than {self.limit:,} distinct customer ids; ids beyond "
                "those were not checked for repeats"]


_NOT_SEEN, _UNLISTED, _NO_GROUP = -1, -2, -3


class RepeatedIds:
    """Second pass: for each repeated id hash (from :meth:`IdCounts.repeated`), the id's
    group of rows — its first rows, its count, whether the rows' values differ — and, on
    the scoring pass, the note of each of its rows (:meth:`notes`).

    Batches are added in file order with the position of their first row; groups made
    over separate files combine with :meth:`merge` (the later file second). At most
    ``limit`` groups are kept, in order of first appearance; rows of further repeated ids
    get a note without row numbers.
    """

    def __init__(self, repeated: np.ndarray, limit: int | None = None) -> None:
        self.repeated = repeated
        self.limit = MAX_LISTED_IDS if limit is None else limit
        #: Per repeated hash: its group (a slot), or _NOT_SEEN / _UNLISTED.
        self._slot_of = np.full(len(repeated), _NOT_SEEN, dtype=np.int32)
        self.n = 0
        size = min(max(len(repeated), 1), 1024)
        self._r = np.zeros(size, dtype=np.int64)          # the hash each group is under
        self._h2 = np.zeros(size, dtype=_U64)             # the second hash of its id
        self._size = np.zeros(size, dtype=np.int64)
        self._rows = np.full((size, LISTED_ROWS + 1), -1, dtype=np.int64)
        self._key = np.zeros(size, dtype=_U64)
        self._conflict = np.zeros(size, dtype=bool)
        self._text: list[str] = []                        # the id as shown in a note
        #: Groups of ids whose first hash collides with another id's: (hash, h2) -> slot.
        self._extra: dict[tuple[int, int], int] = {}
        self.n_unlisted_rows = 0

    # -- building -----------------------------------------------------------------

    def add(self, ids: pd.Series | pa.Array | pa.ChunkedArray, start: int,
            keys_of: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        """Add one batch whose first row is at position ``start``; ``keys_of(positions)``
        gives the :func:`row_keys` of the batch rows at ``positions`` (None: values are
        not compared, and the notes say "same values")."""
        text = id_text(ids)
        r, where = self._lookup(text)
        if not len(where):
            return
        found = text.take(pa.array(where))
        h2 = _exact_hashes(found)
        keys = (np.zeros(len(where), dtype=_U64) if keys_of is None
                else np.asarray(keys_of(where), dtype=_U64))
        fresh = self._slot_of[r] == _NOT_SEEN
        if fresh.any():  # new groups, in order of first appearance, while there is room
            new, first = np.unique(r[fresh], return_index=True)
            order = np.argsort(first, kind="stable")
            new, first = new[order], np.flatnonzero(fresh)[first[order]]
            take = min(len(new), max(self.limit - self.n, 0))
            self._slot_of[new[take:]] = _UNLISTED
            firsts = first[:take]
            self._new_groups(new[:take], h2[firsts],
                       [shown(t) for t in found.take(pa.array(firsts)).to_pylist()],
                       keys[firsts])
        slot = self._slot_of[r].astype(np.int64)
        clash = np.flatnonzero((slot >= 0) & (self._h2[np.maximum(slot, 0)] != h2))
        for i in clash:  # another id under the same first hash: rare, so one by one
            slot[i] = self._slot_for(int(r[i]), int(h2[i]), shown(found[int(i)].as_py()),
                                     int(keys[i]))
        if len(clash):  # an id the cap left without a group unlists its whole hash
            slot = np.where(self._slot_of[r] == _UNLISTED, _UNLISTED, slot)
        live = slot >= 0
        self.n_unlisted_rows += int((~live).sum())
        self._record(slot[live], start + where[live], None if keys_of is None else keys[live])

    def merge(self, other: RepeatedIds) -> None:
        """Add the groups of a later file (found over the same repeated hashes)."""
        self.n_unlisted_rows += other.n_unlisted_rows
        # ids with rows the other could not list: unlisted here too
        self._unlist(np.flatnonzero(other._slot_of == _UNLISTED))
        if not other.n:
            return
        j = np.argsort(other._rows[:other.n, 0], kind="stable")  # by first appearance
        j = j[other._slot_of[other._r[j]] != _UNLISTED]  # not the groups it unlisted
        r, h2 = other._r[j], other._h2[j]
        mine = self._slot_of[r].astype(np.int64)
        main = other._slot_of[r] == j
        new = np.flatnonzero(main & (mine == _NOT_SEEN))
        room = max(self.limit - self.n, 0)
        self._slot_of[r[new[room:]]] = _UNLISTED
        mine[new[room:]] = _UNLISTED
        new = new[:room]
        mine[new] = self._new_groups(r[new], h2[new], [other._text[x] for x in j[new]],
                               other._key[j[new]])
        odd = np.flatnonzero((mine != _UNLISTED) & (
            ~main | ((mine >= 0) & (self._h2[np.maximum(mine, 0)] != h2))))
        for x in odd:  # ids whose first hash collides with another's: one by one
            mine[x] = self._slot_for(int(r[x]), int(h2[x]), other._text[int(j[x])],
                                     int(other._key[j[x]]))
        if len(odd):
            mine = np.where(self._slot_of[r] == _UNLISTED, _UNLISTED, mine)
        live = mine >= 0
        self.n_unlisted_rows += int(other._size[j[~live]].sum())
        mine, j = mine[live], j[live]
        rows = np.concatenate([self._rows[mine], other._rows[j]], axis=1)
        first = np.argsort(rows < 0, axis=1, kind="stable")  # listed rows first, in order
        self._rows[mine] = np.take_along_axis(rows, first, axis=1)[:, :LISTED_ROWS + 1]
        self._conflict[mine] |= other._conflict[j] | (self._key[mine] != other._key[j])
        self._size[mine] += other._size[j]

    def _new_groups(self, r: np.ndarray, h2: np.ndarray, texts: list[str],
              keys: np.ndarray) -> np.ndarray:
        """New groups, with no rows yet, for the hashes ``r`` (not seen before)."""
        slots = np.arange(self.n, self.n + len(r))
        self._grow(self.n + len(r))
        self._r[slots], self._h2[slots], self._key[slots] = r, h2, keys
        self._text.extend(texts)
        self._slot_of[r] = slots
        self.n += len(r)
        return slots

    def _slot_for(self, r: int, h2: int, text: str, key: int) -> int:
        """The group of the id with hashes ``(r, h2)``, opened if there is room.

        When there is none, every id under the first hash ``r`` becomes unlisted (their
        notes then say "also on other rows"): one more id is not worth a second index.
        """
        main = int(self._slot_of[r])
        if main == _UNLISTED or (main >= 0 and self._h2[main] == h2):
            return main
        if main >= 0 and (r, h2) in self._extra:
            return self._extra[(r, h2)]
        if self.n >= self.limit:
            self._unlist(np.array([r]))
            return _UNLISTED
        if main == _NOT_SEEN:
            return int(self._new_groups(np.array([r]), np.array([h2], dtype=_U64), [text],
                                  np.array([key], dtype=_U64))[0])
        slot = self.n
        self._grow(self.n + 1)
        self._r[slot], self._h2[slot], self._key[slot] = r, h2, key
        self._text.append(text)
        self._extra[(r, h2)] = slot
        self.n += 1
        return slot

    def _unlist(self, r: np.ndarray) -> None:
        """Make the ids under the hashes ``r`` unlisted, their rows so far included."""
        if not len(r):
            return
        held = self._slot_of[r]
        self.n_unlisted_rows += int(self._size[held[held >= 0]].sum())
        self._slot_of[r] = _UNLISTED
        if self._extra:
            for k in [k for k in self._extra if self._slot_of[k[0]] == _UNLISTED]:
                self.n_unlisted_rows += int(self._size[self._extra.pop(k)])

    def _grow(self, need: int) -> None:
        size = len(self._size)
        if need <= size:
            return
        new = max(need, 2 * size)
        for name in ("_r", "_h2", "_size", "_key", "_conflict"):
            old = getattr(self, name)
            grown = np.zeros(new, dtype=old.dtype)
            grown[:size] = old
            setattr(self, name, grown)
        rows = np.full((new, LISTED_ROWS + 1), -1, dtype=np.int64)
        rows[:size] = self._rows
        self._rows = rows

    def _record(self, slot: np.ndarray, rows: np.ndarray, keys: np.ndarray | None) -> None:
        """Count rows (in file order) into their groups, keeping each group's first rows."""
        if not len(slot):
            return
        order = np.argsort(slot, kind="stable")
        ordered, ordered_rows = slot[order], rows[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        counts = np.diff(np.r_[starts, len(ordered)])
        groups = ordered[starts]
        rank = np.arange(len(ordered)) - np.repeat(starts, counts)
        rank += np.repeat(self._size[groups], counts)
        early = rank <= LISTED_ROWS
        self._rows[ordered[early], rank[early]] = ordered_rows[early]
        self._size[groups] += counts
        if keys is not None:
            self._conflict[slot[keys != self._key[slot]]] = True

    def _lookup(self, text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """``(hash index, position)`` of the rows whose id hash is a repeated one."""
        if not len(self.repeated) or not len(text):
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        usable, hashes = id_hashes(text)
        at = np.minimum(np.searchsorted(self.repeated, hashes), len(self.repeated) - 1)
        where = np.flatnonzero(usable & (self.repeated[at] == hashes))
        return at[where], where

    # -- using --------------------------------------------------------------------

    def warnings(self) -> list[str]:
        """File-level notes: the groups the cap left unlisted."""
        if not self.n_unlisted_rows:
            return []
        return [f"more than {self.limit:,} customer ids are repeated; the notes of the "
                f"{self.n_unlisted_rows:,} rows of the others do not list their other rows"]

    def notes(self, ids: pd.Series | pa.Array | pa.ChunkedArray, start: int,
              offset: int = 0) -> dict[int, str]:
        """The notes of one batch whose first row is at position ``start``, keyed by the
        row's position in the batch; rows are numbered from 1, plus ``offset``.

        Rows after a group's first few share one note (built once per batch), so a batch
        costs O(rows) whatever the size of its groups.
        """
        text = id_text(ids)
        r, where = self._lookup(text)
        if not len(where):
            return {}
        found = text.take(pa.array(where))
        h2 = _exact_hashes(found)
        slot = self._slot_of[r].astype(np.int64)
        clash = np.flatnonzero((slot >= 0) & (self._h2[np.maximum(slot, 0)] != h2))
        for i in clash:
            slot[i] = self._extra.get((int(r[i]), int(h2[i])), _NO_GROUP)
        listed = np.flatnonzero((slot >= 0) & (self._size[np.maximum(slot, 0)] >= 2))
        texts = np.empty(len(where), dtype=object)
        if len(listed):
            positions = start + where[listed]
            first = (self._rows[slot[listed]] == positions[:, None]).any(axis=1)
            head, tail = listed[first], listed[~first]
            if len(head):  # among a group's first rows: each lists the others
                texts[head] = self._listed_notes(slot[head], start + where[head], offset)
            if len(tail):  # every later row of a group has the same note: one string
                groups, inverse = np.unique(slot[tail], return_inverse=True)
                positions = np.full(len(groups), -2, dtype=np.int64)  # no row of the head
                shared = self._listed_notes(groups, positions, offset)
                texts[tail] = shared[inverse]
        unlisted = np.flatnonzero(slot == _UNLISTED)
        if len(unlisted):  # one note per id, shared by its rows
            _, first, inverse = np.unique(h2[unlisted], return_index=True, return_inverse=True)
            ids_shown = found.take(pa.array(unlisted[first])).to_pylist()
            shared = [f"customer_id {shown(t)} also on other rows (not listed: over "
                      f"{self.limit:,} ids repeat)" for t in ids_shown]
            texts[unlisted] = np.array(shared, dtype=object)[inverse]
        keep = np.sort(np.concatenate([listed, unlisted]))
        return dict(zip(where[keep].tolist(), texts[keep].tolist(), strict=True))

    def _listed_notes(self, slot: np.ndarray, positions: np.ndarray, offset: int) -> np.ndarray:
        """The notes of rows at ``positions`` of the groups ``slot``, built column-wise
        (Arrow's string kernels): each lists up to :data:`LISTED_ROWS` of the group's
        other rows, in file order, then counts the rest."""
        groups, inverse = np.unique(slot, return_inverse=True)
        prefix, suffix = [], []
        for s in groups.tolist():
            more = int(self._size[s]) - 1 - LISTED_ROWS
            kind = "conflicting values" if self._conflict[s] else "same values"
            prefix.append(f"customer_id {self._text[s]} also on row ")
            suffix.append(f" and {more:,} more ({kind})" if more > 0 else f" ({kind})")
        heads = self._rows[slot]  # a group's first rows, ascending, then -1
        here = heads == positions[:, None]
        own = np.where(here.any(axis=1), here.argmax(axis=1), LISTED_ROWS + 1)
        column = np.arange(LISTED_ROWS)
        take = column + (column >= own[:, None])  # skip the row's own place
        others = np.take_along_axis(heads, take, axis=1)
        numbers = [pa.array(others[:, c] + (1 + offset), mask=others[:, c] < 0).cast(pa.string())
                   for c in range(LISTED_ROWS)]
        listed = pc.binary_join_element_wise(*numbers, ", ", null_handling="skip")
        index = pa.array(inverse)
        notes = pc.binary_join_element_wise(pa.array(prefix).take(index), listed,
                                            pa.array(suffix).take(index), "")
        return notes.to_numpy(zero_copy_only=False)


_SUMMARY_WORDS = ("total", "totals", "sum", "subtotal", "sub-total", "average", "avg", "mean",
                  "median", "count", "min", "max", "minimum", "maximum")
#: Summary labels, lower-case, as a spreadsheet footer writes them ("Total", "Grand total:").
_SUMMARY = pa.array(sorted(
    f"{prefix}{word}{colon}"
    for word in _SUMMARY_WORDS
    for prefix in ("", "grand ")
    for colon in ("", ":", " :")
))


SUMMARY_NOTE = "looks like a spreadsheet summary row"


def summary_row_notes(cells: pd.Series) -> dict[int, str]:
    """Rows whose cell is a spreadsheet summary label ("Total", "Average", "Grand total").

    Such a row sums or averages customers; scoring it as one would be silently wrong.
    Positions are those of ``cells``; numbering in the note is from 1.
    """
    text = to_arrow_text(cells.reset_index(drop=True))
    # Short cells that are not digits alone (no label is; two cheap passes over every
    # cell, which leave none of an id or invoice column of numbers), then an exact,
    # case-insensitive set lookup over those only.
    maybe = pc.and_(pc.fill_null(pc.less_equal(pc.utf8_length(text), 16), False),
                    pc.invert(pc.fill_null(pc.ascii_is_decimal(text), False)))
    candidates = np.flatnonzero(maybe.to_numpy(zero_copy_only=False))
    if not len(candidates):
        return {}
    shortlist = text.take(pa.array(candidates))
    label = pc.utf8_lower(pc.utf8_trim_whitespace(shortlist))
    hits = pc.fill_null(pc.is_in(label, value_set=_SUMMARY), False)
    found = np.flatnonzero(hits.to_numpy(zero_copy_only=False))
    if not len(found):
        return {}
    rows = candidates[found]
    values = shortlist.take(pa.array(found)).to_pylist()
    return {
        int(r): f"{SUMMARY_NOTE} ({shown(v.strip())}), not a customer"
        for r, v in zip(rows, values, strict=True)
    }


def dollar_income_note(header: str, unit_source: str) -> str | None:
    """What the output says when the income column was read in dollars because its
    values say so (``unit_source`` "values"), or in the unit the model was fitted with
    ("model"), its header naming none."""
    if unit_source == "values":
        return (f"the income column {shown(header)} has no unit in its header and most of "
                "its values are above 1,000: read as dollars and converted to k$. If they "
                "are thousands of dollars, state the unit 'k$'")
    return None


def other_currency_message(values: pd.Series, header: str) -> str | None:
    """A refusal message when every income value given is in one other currency than
    the US dollar ('€45,000' on every row): the column is in that currency, not a few
    cells. (A few such cells are flagged on their rows.)"""
    parsed = parse_numbers(values, money_unit="k$")
    given = parsed.status != MISSING
    if not given.any() or not (parsed.status[given] == OTHER_CURRENCY).all():
        return None
    cells = parsed.text[given]
    names = {currency_of(str(c)) for c in cells[:1_000]}
    if len(names) != 1:
        return None
    (name,) = names
    return (
        f"the income column {shown(header)} is in {name} on every row (such as "
        f"{shown(cells[0])}); custseg reads incomes in US dollars. Convert the column to "
        "thousands of US dollars (k$) and remove the currency from its cells, then read "
        "the file again"
    )
