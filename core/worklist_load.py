"""How a ``core.worklist.Worklist`` reads a folder from the store and builds its rows (mixed into
``Worklist``): ``load`` reads the images, current labels, readings, claims and file errors and builds
the rows from them — sorted, counted, filtered — into a ``Snapshot`` that ``Worklist.apply`` installs.
Everything here only reads the store and the list's settings, so ``load`` runs off the GUI thread: with
100,000 rows the building is most of the work of opening a folder."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Optional

from core.work_items import (ERROR_FILTERS, FILTERS, OUT_OF_SCOPE, Snapshot, WorkItem, _error_key, _Prepared,
                              matches, sort_keys, tally, view_keys)

if TYPE_CHECKING:  # pragma: no cover
    from core.store import Decision


class WorklistLoading:
    """``load`` and the store reads and row building it shares with the worklist's incremental updates
    (``labels_for``, ``_readings``, ``_error_item``). Needs the ``Worklist`` attributes (store, reading,
    thresholds, root, model version, filter) and its ``_rank`` and ``_study``."""

    def load(self) -> "Snapshot":
        """Read the folder's images, their current decisions and its file errors from the store, and
        build the rows from them (sorted, counted, filtered). Thread-safe (it only reads the store and
        this list's settings): run it off the GUI thread, then ``apply`` the result — with 100,000 rows
        the building is most of the work, and it must not stall the GUI."""
        last = self._last_event_id()
        rows = self.store.image_rows(self.root, self.model_version)
        ids = [r.image_id for r in rows]
        labels = self.labels_for(ids)
        readings, others = self._readings(ids)
        snap = Snapshot(rows=rows, labels=labels, errors=self.store.error_rows(self.root), readings=readings,
                        others=others, last_event=last, held=self._claims())
        return replace(snap, prepared=self._prepare(snap, self._filter))

    def labels_for(self, ids: list[str]) -> Mapping[str, "Decision"]:
        """The current labels these rows show: this reader's own, or anyone's latest (``core.reading``).
        Thread-safe (reads the store)."""
        whose = self.reading.labels_of
        return self.store.current_labels(ids) if whose is None else self.store.current_labels(ids, reader=whose)

    def _last_event_id(self) -> int:
        fn = getattr(self.store, "last_event_id", None)
        return fn() if fn is not None else 0

    def _claims(self) -> frozenset:
        fn = getattr(self.store, "claimed_by_others", None)
        return frozenset(fn(self.reading.reader or None, None)) if fn is not None else frozenset()

    def _prepare(self, snapshot: "Snapshot", filter_name: str) -> _Prepared:
        items: dict[str, WorkItem] = {}
        held = snapshot.held
        labels, readings, others = snapshot.labels, snapshot.readings, snapshot.others
        flag_of, settled, study = self.thresholds.flag, self.reading.settled, self._study
        for r in snapshot.rows:  # 10,000s of rows: one WorkItem each, its flag settled by its scope here
            iid = r.image_id
            d = labels.get(iid)
            mark = r.scope_mark if r.scope_mark is not None and r.scope_mark.in_scope else None
            marked_by = mark.reviewer if mark else None
            reading = readings.get(iid)
            items[iid] = WorkItem(
                image_id=iid,
                path_text=r.path,  # the store's text: no Path per row
                name=os.path.basename(r.path),
                probability=r.probability,
                model_version=r.model_version,
                flag=None if r.scope == OUT_OF_SCOPE and marked_by is None else flag_of(r.probability),
                label=d.label if d else None,
                reviewer=d.reviewer if d else None,
                decided_at=d.decided_at if d else None,
                body_part=r.body_part,
                view=r.view,
                error=None,
                note=r.notes or None,
                reading=reading,
                settled=settled(reading),
                held=iid in held,
                readers_text=others.get(iid),
                scope=r.scope,
                scope_reason=r.scope_reason,
                scope_marked_by=marked_by,
                scope_marked_at=mark.at if mark else None,
                **study(r.path, r.study_uid),
            )
        for e in snapshot.errors:
            items[_error_key(e.path)] = self._error_item(Path(e.path), e.error, e.error_kind, e.image_id)
        sk: dict[str, tuple] = {}
        key_of: dict[int, str] = {}  # seq -> key: an int hashes for nothing, a (group, -p, seq) tuple does not
        seq = 0
        for key, item in items.items():
            seq += 1
            k = self._rank(item, seq)
            sk[key] = k
            key_of[seq] = key
        ordered = sort_keys(list(sk.values()))
        counts, facts = dict.fromkeys(FILTERS, 0), [0, 0]
        for item in items.values():
            tally(counts, facts, item, 1)
        view = [k for k in ordered if matches(items[key_of[k[-1]]], filter_name)]
        keys = view_keys(view, key_of, items, bool(counts["errors"]) and filter_name in ERROR_FILTERS)
        return _Prepared(filter_name, items, sk, key_of, ordered, counts, seq, view, tuple(facts), keys)

    def _readings(self, image_ids: list[str]) -> tuple[dict[str, str], dict[str, str]]:
        """(image id → reference source among all readers (see ``core.store.readers``), image id → each
        reader's label as text — for adjudicators only, who may see them)."""
        by_reader = getattr(self.store, "labels_by_reader", None)
        if by_reader is None or not image_ids:
            return {}, {}
        from core.store.readers import reference_of  # the store's rule (a lower layer)

        by = by_reader(image_ids)
        readings = {k: reference_of(v).source for k, v in by.items()}
        if not self.reading.adjudicator:
            return readings, {}
        others = {k: " · ".join(f"{name}: {d.label.replace('_', ' ')}" for name, d in sorted(v.items())
                                if d.role != "adjudicator") for k, v in by.items()}
        return readings, {k: t for k, t in others.items() if t}

    def _error_item(self, path: Path, error: Optional[str], kind: Optional[str], image_id: Optional[str]) -> WorkItem:
        return WorkItem(
            image_id=image_id,
            path_text=str(path),
            name=path.name,
            probability=None,
            model_version=None,
            flag=None,
            label=None,
            reviewer=None,
            decided_at=None,
            body_part=None,
            view=None,
            error=error or "could not be read",
            error_kind=kind,
            **self._study(path, None),
        )
