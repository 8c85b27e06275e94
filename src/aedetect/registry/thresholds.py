"""Threshold revisions of model versions: each change of a run's threshold is a new row, the
newest is the one scoring uses (read in the same query as the serving run)."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aedetect.domain import JobStatus, ThresholdRevision
from aedetect.errors import Conflict, InvalidInput, quoted
from aedetect.registry.orm import ThresholdRow, utcnow
from aedetect.registry.runs import ACTOR_CHARS
from aedetect.registry.store import SqlStore, _json_value, _optional_text, _text, _threshold

STRATEGY_CHARS = 32


class ThresholdStore(SqlStore):
    """Threshold revisions."""

    def add_threshold(
        self,
        run_id: str,
        value: float,
        strategy: str,
        inputs: dict[str, Any],
        *,
        actor: str | None = None,
        note: str | None = None,
    ) -> ThresholdRevision:
        """Record a new current threshold of a succeeded run."""
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidInput(f"threshold must be a finite number, got {quoted(value)}", field="value")
        name = _text(strategy, "strategy")
        if not name or len(name) > STRATEGY_CHARS:
            raise InvalidInput(f"strategy must be 1 to {STRATEGY_CHARS} characters", field="strategy")
        stored = _json_value(inputs, "inputs")
        actor = _optional_text(actor, "actor", ACTOR_CHARS)
        note = _optional_text(note, "note")

        def work(session: Session) -> ThresholdRevision:
            run = self._run_row(session, run_id)
            if run.status != JobStatus.SUCCEEDED.value:
                raise Conflict(
                    f"training run '{run_id}' is {run.status}: it has no model to set a threshold on"
                )
            row = ThresholdRow(
                run_id=run_id,
                value=float(value),
                strategy=name,
                inputs=stored,
                actor=actor,
                note=note,
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return _threshold(row)

        return self._write(work)

    def list_thresholds(self, run_id: str) -> list[ThresholdRevision]:
        """Every threshold revision of a run, oldest first."""

        def work(session: Session) -> list[ThresholdRevision]:
            self._run_row(session, run_id)
            rows = session.scalars(
                select(ThresholdRow).where(ThresholdRow.run_id == run_id).order_by(ThresholdRow.id)
            )
            return [_threshold(r) for r in rows]

        return self._read(work)
