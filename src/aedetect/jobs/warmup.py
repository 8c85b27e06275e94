"""Imported once by the forkserver of job processes (after ``aedetect.bootstrap``), so that every
job forked from it starts with the one-time work done: the baseline's IsolationForest, which the
services import only when they fit it (2.6 s of imports), and SQLAlchemy's mapper configuration,
done at a process's first query (0.5 s). Measured per job on a 2-core machine before this."""

from sklearn.ensemble import IsolationForest
from sqlalchemy.orm import configure_mappers

configure_mappers()

__all__ = ["IsolationForest"]
