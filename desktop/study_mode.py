"""The study mode of a review session (mixed into ``desktop.session.ReviewSession``; no widgets): the
worklist's items carry their pseudonymous study key (``core.studies.StudyKeys``: the database's secret,
read once on the writer thread, and the run configuration's grouping rule), and the review order is a
``core.study_order.StudyOrder`` (rows are studies, sorted by study score) or a ``core.order.ReviewOrder``
(rows are images) over the same worklist. ``set_study_mode`` swaps the two, keeping the reader on the
same image or its study; ``set_study_rules`` lists the open folder again under a new grouping rule or
study score. Decisions on a study row go through the session's one triage queue like any other key.
"""

from __future__ import annotations

from typing import Callable, Optional

from core.find import find
from core.order import ReviewOrder, row_key
from core.studies import StudyKeys
from core.study_order import StudyOrder

PREFETCH_VIEWS = 4  # views of a study row decoded ahead (the side-by-side page shows them)


class StudyMode:
    """The study-mode part of ``ReviewSession`` (uses its ``worklist``, ``order``, ``triage``, ``tasks``,
    ``store`` and signals ``study_mode_changed`` / ``notice``)."""

    def _init_studies(self, grouping: str, score: str, by_study: bool) -> None:
        self.study_grouping = grouping  # core.config's: how files other than DICOM form studies
        self.study_score = score
        self.by_study = by_study
        self._secret: Optional[bytes] = None

    def _with_study_keys(self, gen: int, then: Callable[[StudyKeys], None], failed: Callable) -> None:
        """Call ``then(StudyKeys)`` on the GUI thread once the study keys' secret is known (made on first
        use, so read on the writer thread), unless another folder was opened meanwhile."""
        grouping = self.study_grouping

        def keyed(secret: bytes) -> None:
            self._secret = secret
            if gen == self._gen:
                then(StudyKeys(secret, grouping))

        if self._secret is not None:
            keyed(self._secret)
        else:
            self.tasks.run_on_writer(self.store.pseudonym_secret, keyed, failed)

    def _order_for(self, wl):
        by_study = self.by_study and wl.study_keys is not None
        return StudyOrder(wl, self.study_score) if by_study else ReviewOrder(wl)

    @property
    def studies_shown(self) -> bool:
        """The rows are studies (``core.study_order.StudyOrder``)."""
        return isinstance(self.order, StudyOrder)

    @property
    def open_study(self):
        """The study whose views are listed under it (study mode), or None."""
        return getattr(self.order, "open_study", None)

    def set_study_mode(self, on: bool) -> None:
        """Rows are studies (``on``) or images, over the same worklist; the reader stays on the same
        image (in study mode: on its study's row), or on the first view of the study they were on."""
        self.by_study = bool(on)
        wl, t = self.worklist, self.triage
        if wl is None or t is None or self.studies_shown == self.by_study:
            self.study_mode_changed.emit(self.by_study)
            return
        item = t.current_item
        key = None
        if item is not None:
            if item.is_study:
                first = next((v for v in item.views if v.to_review), item.views[0] if item.views else None)
                key = row_key(first) if first is not None else None
            else:
                key = row_key(item)
        filter_name = self.order.filter if self.studies_shown else wl.filter
        self._bind(wl)
        if self.studies_shown and filter_name in wl.filters:
            self.order.set_filter(filter_name)
        if key is not None:
            row = self.order.row_for_image(key)
            if row is not None:
                self.triage.go_to(row)
        self._check_current()
        self.study_mode_changed.emit(self.by_study)

    def set_study_rules(self, grouping: str, score: str) -> None:
        """A new grouping rule or study score (Settings): the open folder is listed again under it."""
        if (grouping, score) == (self.study_grouping, self.study_score):
            return
        self.study_grouping, self.study_score = grouping, score
        if self.root is not None:
            self.open_folder(self.root)

    def go_to_image(self, key: str) -> bool:
        """Show the file ``key`` (a row key) as if the reader picked it: in the study mode its study is
        opened first and its view row becomes current (find). False when it is not listed."""
        order = self.order
        if order is None or self.triage is None:
            return False
        if self.studies_shown and order.row_of(key) is None:
            row = order.row_for_image(key)
            study = order[row] if row is not None else None
            if study is None or not study.is_study:
                return False
            order.expand(study.key)
        if order.row_of(key) is None:
            return False
        self.select(key)
        return True

    def find_file(self, text: str, step: int = 0):
        """Go to the file ``core.find`` names for ``text`` from the current row (its view, opening its
        study, in the study mode); returns the ``core.find.FindResult`` (None: nothing open)."""
        if self.order is None or self.triage is None:
            return None
        result = find(self.order, text, self.triage.current, step)
        if result.key is not None:
            self.go_to_image(result.key)
        return result

    def _set_study_filter(self, name: str) -> None:
        if self.order.filter == name or name not in self.worklist.filters:
            return
        self.order.set_filter(name)
        if self.worklist.filter != name:
            self.worklist.set_filter(name)
        if self.triage is not None and self.triage.current_item is None and len(self.order):
            self.triage.go_to_top()
        self._check_current()
        self._emit_counts()

    def _step(self, action: str) -> None:
        """``step_in`` / ``step_out`` of a study (``core.triage``)."""
        if not self.studies_shown:
            self.notice.emit("Studies are not listed: press G (Review › List studies) to list them.")
        elif action == "step_in":
            self.triage.step_in()
        else:
            self.triage.step_out()

    @staticmethod
    def _as_views(items: list) -> list:
        """Rows to decode ahead, a study row standing for its first views (seen side by side)."""
        views = []
        for it in items:
            views.extend(it.views[:PREFETCH_VIEWS] if it.is_study else (it,))
        return views
