"""Training runs and what the native API makes of them: numbered model versions, the
``production`` alias (the active version's active run, which is what the v1 API serves) and the
other aliases, with every move recorded."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from aedetect.domain import PRODUCTION, AliasMove, JobStatus, TrainingRun, Version
from aedetect.errors import Conflict, Hint, InvalidInput, NotFitted, NotFound
from aedetect.registry.networks import NetworkStore, _version
from aedetect.registry.orm import AliasMoveRow, AliasRow, RunRow, ThresholdRow, VersionRow, utcnow
from aedetect.registry.store import (
    UNFINISHED,
    _check_fields,
    _json_value,
    _optional_text,
    _run,
    _status,
    _text,
    _timestamp,
)

RUN_FIELDS = frozenset({"status", "model_path", "metrics", "result", "error", "started_at", "finished_at"})
ACTOR_CHARS = 200


def _move(row: AliasMoveRow) -> AliasMove:
    return AliasMove(
        nn_id=row.nn_id,
        alias=row.alias,
        from_version=row.from_version,
        to_version=row.to_version,
        actor=row.actor,
        note=row.note,
        moved_at=row.moved_at,
    )


def _latest_threshold_id() -> Any:
    """Correlated subquery: the id of a run's newest threshold revision."""
    return (
        select(func.max(ThresholdRow.id))
        .where(ThresholdRow.run_id == RunRow.run_id)
        .correlate(RunRow)
        .scalar_subquery()
    )


def _run_values(fields: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "status":
            values[name] = _status(value)
        elif name in ("started_at", "finished_at"):
            values[name] = _timestamp(value, name)
        elif name in ("metrics", "result"):
            values[name] = _json_value(value, name, nullable=name == "result")
        else:
            values[name] = _text(value, name, nullable=True)
    return values


class RunStore(NetworkStore):
    """Training runs, model versions and aliases (over the networks and versions they belong to)."""

    def create_run(
        self, nn_id: str, version: int, params: dict[str, Any], job_id: str | None, *, exclusive: bool = False
    ) -> TrainingRun:
        stored = _json_value(params, "params")
        _text(job_id, "job_id", nullable=True)

        def work(session: Session) -> TrainingRun:
            self._version_row(session, nn_id, version, lock=True)
            if exclusive:
                busy = session.scalars(
                    select(RunRow)
                    .where(RunRow.nn_id == nn_id, RunRow.version == version, RunRow.status.in_(UNFINISHED))
                    .limit(1)
                ).first()
                if busy is not None:
                    raise Conflict(
                        f"version {version} of network {nn_id} is already training (run {busy.run_id} is "
                        f"{busy.status}); wait until it finishes",
                        field="ver",
                    )
            latest = session.scalar(
                select(func.max(RunRow.seq)).where(RunRow.nn_id == nn_id, RunRow.version == version)
            )
            seq = (latest or 0) + 1
            row = RunRow(
                run_id=f"{nn_id}_{version}_{seq}",
                nn_id=nn_id,
                version=version,
                seq=seq,
                status=JobStatus.QUEUED.value,
                active=False,
                job_id=job_id,
                params=stored,
                metrics={},
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return _run(row)

        return self._write(work, retry=True)

    def get_run(self, run_id: str) -> TrainingRun:
        return self._read(lambda session: _run(self._run_row(session, run_id)))

    def list_runs(self, nn_id: str, version: int) -> list[TrainingRun]:
        def work(session: Session) -> list[TrainingRun]:
            self._version_row(session, nn_id, version)
            rows = session.scalars(
                select(RunRow).where(RunRow.nn_id == nn_id, RunRow.version == version).order_by(RunRow.seq)
            )
            return [_run(r) for r in rows]

        return self._read(work)

    def update_run(self, run_id: str, fields: dict[str, Any]) -> TrainingRun:
        _check_fields(fields, RUN_FIELDS, "training run")
        values = _run_values(fields)

        def work(session: Session) -> TrainingRun:
            row = self._run_row(session, run_id)
            for name, value in values.items():
                setattr(row, name, value)
            session.flush()
            return _run(row)

        return self._write(work)

    def finish_run(
        self, run_id: str, fields: dict[str, Any], threshold: float, inputs: dict[str, Any]
    ) -> TrainingRun:
        """Mark the run succeeded with ``fields``, give it the network's next model version and
        record its first threshold revision (strategy ``contamination``), in one transaction."""
        _check_fields(fields, RUN_FIELDS, "training run")
        values = _run_values(fields)
        stored_inputs = _json_value(inputs, "inputs")

        def work(session: Session) -> TrainingRun:
            row = self._run_row(session, run_id)
            self._network_row(session, row.nn_id, lock=True)
            latest = session.scalar(select(func.max(RunRow.model_version)).where(RunRow.nn_id == row.nn_id))
            for name, value in values.items():
                setattr(row, name, value)
            row.status = JobStatus.SUCCEEDED.value
            row.model_version = (latest or 0) + 1
            revision = ThresholdRow(
                run_id=run_id,
                value=float(threshold),
                strategy="contamination",
                inputs=stored_inputs,
                actor=None,
                note="set at training",
                created_at=utcnow(),
            )
            session.add(revision)
            session.flush()
            return _run(row, revision)

        return self._write(work, retry=True)

    def activate_run(self, run_id: str, *, actor: str | None = None, note: str | None = None) -> TrainingRun:
        """Make the run its version's only active model; ``Conflict`` unless it succeeded. When
        the version is the network's active one, this moves ``production`` and records the move."""
        actor = _optional_text(actor, "actor", ACTOR_CHARS)
        note = _optional_text(note, "note")

        def work(session: Session) -> TrainingRun:
            row = self._run_row(session, run_id, lock=True)
            self._activate(session, row, actor, note, make_version_active=False)
            session.flush()
            return _run(row)

        return self._write(work)

    def _activate(
        self,
        session: Session,
        row: RunRow,
        actor: str | None,
        note: str | None,
        *,
        make_version_active: bool,
    ) -> None:
        if row.status != JobStatus.SUCCEEDED.value:
            raise Conflict(
                f"training run '{row.run_id}' is {row.status}; only a succeeded run can be activated",
                field="run_id",
            )
        before = self._production_row(session, row.nn_id)
        if make_version_active:
            session.execute(
                update(VersionRow)
                .where(VersionRow.nn_id == row.nn_id, VersionRow.version != row.version)
                .values(active=False, updated_at=utcnow())
            )
            version = self._version_row(session, row.nn_id, row.version)
            version.active = True
            version.updated_at = utcnow()
        session.execute(
            update(RunRow)
            .where(
                RunRow.nn_id == row.nn_id,
                RunRow.version == row.version,
                RunRow.run_id != row.run_id,
                RunRow.active.is_(True),
            )
            .values(active=False)
        )
        row.active = True
        self._record_production_move(session, row.nn_id, before, actor, note)

    def _record_production_move(
        self, session: Session, nn_id: str, before: RunRow | None, actor: str | None, note: str | None
    ) -> None:
        """Record a move of ``production`` when the run it resolves to is no longer ``before``
        (the v1 ways of choosing what serves move it as the alias route does)."""
        session.flush()
        after = self._production_row(session, nn_id)
        if (before and before.run_id) != (after and after.run_id):
            session.add(
                AliasMoveRow(
                    nn_id=nn_id,
                    alias=PRODUCTION,
                    from_version=before.model_version if before else None,
                    to_version=after.model_version if after else None,
                    actor=actor,
                    note=note,
                    moved_at=utcnow(),
                )
            )

    def update_version(
        self, nn_id: str, version: int, fields: dict[str, Any], *, actor: str | None = None
    ) -> Version:
        actor = _optional_text(actor, "actor", ACTOR_CHARS)

        def work(session: Session) -> Version:
            before = self._production_row(session, nn_id)
            row = self._set_version_fields(session, nn_id, version, fields)
            self._record_production_move(session, nn_id, before, actor, None)
            return _version(row)

        return self._write(work)

    @staticmethod
    def _production_row(session: Session, nn_id: str) -> RunRow | None:
        return session.scalars(
            select(RunRow)
            .join(VersionRow, (VersionRow.nn_id == RunRow.nn_id) & (VersionRow.version == RunRow.version))
            .where(RunRow.nn_id == nn_id, RunRow.active.is_(True), VersionRow.active.is_(True))
            .order_by(VersionRow.version, RunRow.seq)
            .limit(1)
        ).first()

    def get_active_run(self, nn_id: str, version: int) -> TrainingRun | None:
        def work(session: Session) -> TrainingRun | None:
            self._version_row(session, nn_id, version)
            row = session.scalars(
                select(RunRow)
                .where(RunRow.nn_id == nn_id, RunRow.version == version, RunRow.active.is_(True))
                .order_by(RunRow.seq)
                .limit(1)
            ).one_or_none()
            return None if row is None else _run(row, self._current_threshold(session, row.run_id))

        return self._read(work)

    def get_serving_run(self, nn_id: str, version: int | None) -> tuple[int, TrainingRun | None]:
        def work(session: Session) -> tuple[int, TrainingRun] | None:
            version_match = VersionRow.active.is_(True) if version is None else VersionRow.version == version
            row = session.execute(
                select(RunRow, VersionRow.version, ThresholdRow)
                .join(VersionRow, (VersionRow.nn_id == RunRow.nn_id) & (VersionRow.version == RunRow.version))
                .outerjoin(ThresholdRow, ThresholdRow.id == _latest_threshold_id())
                .where(RunRow.nn_id == nn_id, RunRow.active.is_(True), version_match)
                .order_by(VersionRow.version, RunRow.seq)
                .limit(1)
            ).one_or_none()
            if row is not None:
                return row[1], _run(row[0], row[2])
            return None

        found = self._read(work)
        if found is not None:
            return found
        # no serving model: resolve the version the slow way, for its number or the right NotFound
        number = self.get_active_version(nn_id).version if version is None else version
        return number, self.get_active_run(nn_id, number)

    # --- model versions -------------------------------------------------------------------
    def get_model_version(self, nn_id: str, number: int) -> TrainingRun:
        """The run that is model version ``number`` of the network, with its current threshold."""

        def work(session: Session) -> TrainingRun:
            found = session.execute(
                select(RunRow, ThresholdRow)
                .outerjoin(ThresholdRow, ThresholdRow.id == _latest_threshold_id())
                .where(RunRow.nn_id == nn_id, RunRow.model_version == number)
            ).one_or_none()
            if found is None:
                self._network_row(session, nn_id)
                raise NotFound(f"model '{nn_id}' has no version {number}", field="version")
            return _run(found[0], found[1])

        return self._read(work)

    def list_model_versions(self, nn_id: str) -> list[TrainingRun]:
        """The network's model versions by number, each with its current threshold."""

        def work(session: Session) -> list[TrainingRun]:
            self._network_row(session, nn_id)
            rows = session.execute(
                select(RunRow, ThresholdRow)
                .outerjoin(ThresholdRow, ThresholdRow.id == _latest_threshold_id())
                .where(RunRow.nn_id == nn_id, RunRow.model_version.is_not(None))
                .order_by(RunRow.model_version)
            ).all()
            return [_run(run, threshold) for run, threshold in rows]

        return self._read(work)

    # --- aliases --------------------------------------------------------------------------
    def aliases(self, nn_id: str) -> dict[str, int]:
        """Alias -> model version of the network, ``production`` included when it points somewhere."""

        def work(session: Session) -> dict[str, int]:
            self._network_row(session, nn_id)
            found: dict[str, int] = {}
            production = self._production_row(session, nn_id)
            if production is not None and production.model_version is not None:
                found[PRODUCTION] = production.model_version
            rows = session.execute(
                select(AliasRow.alias, RunRow.model_version)
                .join(RunRow, RunRow.run_id == AliasRow.run_id)
                .where(AliasRow.nn_id == nn_id)
                .order_by(AliasRow.alias)
            ).all()
            found.update({alias: number for alias, number in rows if number is not None})
            return found

        return self._read(work)

    def resolve_alias(self, nn_id: str, alias: str) -> TrainingRun:
        """The run an alias points to, with its current threshold; ``NotFound`` naming the alias."""
        if alias == PRODUCTION:
            _, run = self.get_serving_run(nn_id, None)
            if run is None:
                raise NotFitted(
                    f"model '{nn_id}' has no trained version yet: train it first",
                    hint=Hint("train", model=nn_id),
                )
            return run

        def work(session: Session) -> TrainingRun:
            found = session.execute(
                select(RunRow, ThresholdRow)
                .join(AliasRow, AliasRow.run_id == RunRow.run_id)
                .outerjoin(ThresholdRow, ThresholdRow.id == _latest_threshold_id())
                .where(AliasRow.nn_id == nn_id, AliasRow.alias == alias)
            ).one_or_none()
            if found is None:
                self._network_row(session, nn_id)
                raise NotFound(f"model '{nn_id}' has no alias '{alias}'", field="alias")
            return _run(found[0], found[1])

        return self._read(work)

    def set_alias(
        self, nn_id: str, alias: str, number: int, *, actor: str | None = None, note: str | None = None
    ) -> AliasMove:
        """Point ``alias`` at model version ``number`` and record the move. ``production`` makes
        that version's workflow version active and its run the active one (what v1 serves)."""
        actor = _optional_text(actor, "actor", ACTOR_CHARS)
        note = _optional_text(note, "note")

        def work(session: Session) -> AliasMove:
            self._network_row(session, nn_id, lock=True)
            target = session.scalars(
                select(RunRow).where(RunRow.nn_id == nn_id, RunRow.model_version == number)
            ).one_or_none()
            if target is None:
                raise NotFound(f"model '{nn_id}' has no version {number}", field="version")
            if alias == PRODUCTION:
                before = self._production_row(session, nn_id)
                self._activate(session, target, actor, note, make_version_active=True)
                if before is not None and before.run_id == target.run_id:
                    return AliasMove(nn_id, alias, number, number, actor, note, utcnow())
                session.flush()
                latest = session.scalars(
                    select(AliasMoveRow)
                    .where(AliasMoveRow.nn_id == nn_id, AliasMoveRow.alias == PRODUCTION)
                    .order_by(AliasMoveRow.id.desc())
                    .limit(1)
                ).one()
                return _move(latest)
            row = session.scalars(
                select(AliasRow).where(AliasRow.nn_id == nn_id, AliasRow.alias == alias)
            ).one_or_none()
            previous = None
            if row is None:
                row = AliasRow(nn_id=nn_id, alias=alias, run_id=target.run_id, updated_at=utcnow())
                session.add(row)
            else:
                previous = self._run_row(session, row.run_id).model_version
                row.run_id = target.run_id
                row.updated_at = utcnow()
            move = AliasMoveRow(
                nn_id=nn_id,
                alias=alias,
                from_version=previous,
                to_version=number,
                actor=actor,
                note=note,
                moved_at=utcnow(),
            )
            session.add(move)
            session.flush()
            return _move(move)

        return self._write(work)

    def delete_alias(self, nn_id: str, alias: str, *, actor: str | None = None) -> AliasMove:
        """Remove an alias other than ``production`` and record it (``to_version`` null)."""
        if alias == PRODUCTION:
            raise InvalidInput(
                "the production alias cannot be removed; point it at another version instead", field="alias"
            )
        actor = _optional_text(actor, "actor", ACTOR_CHARS)

        def work(session: Session) -> AliasMove:
            row = session.scalars(
                select(AliasRow).where(AliasRow.nn_id == nn_id, AliasRow.alias == alias)
            ).one_or_none()
            if row is None:
                self._network_row(session, nn_id)
                raise NotFound(f"model '{nn_id}' has no alias '{alias}'", field="alias")
            previous = self._run_row(session, row.run_id).model_version
            session.delete(row)
            move = AliasMoveRow(
                nn_id=nn_id,
                alias=alias,
                from_version=previous,
                to_version=None,
                actor=actor,
                moved_at=utcnow(),
            )
            session.add(move)
            session.flush()
            return _move(move)

        return self._write(work)

    def alias_moves(self, nn_id: str, alias: str | None = None) -> list[AliasMove]:
        """Recorded alias moves of the network, oldest first (one alias, or all)."""

        def work(session: Session) -> list[AliasMove]:
            self._network_row(session, nn_id)
            stmt = select(AliasMoveRow).where(AliasMoveRow.nn_id == nn_id).order_by(AliasMoveRow.id)
            if alias is not None:
                stmt = stmt.where(AliasMoveRow.alias == alias)
            return [_move(r) for r in session.scalars(stmt)]

        return self._read(work)
