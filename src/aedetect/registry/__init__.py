"""The registry: storage of networks, versions, workflow nodes, training runs and jobs, and of
API keys and the audit log (:mod:`aedetect.registry.access`)."""

from aedetect.registry.access import AccessStore
from aedetect.registry.base import Registry
from aedetect.registry.sql import SqlRegistry

__all__ = ["AccessStore", "Registry", "SqlRegistry"]
