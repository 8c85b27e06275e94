"""The registry: storage of networks, versions, workflow nodes, training runs and jobs."""

from aedetect.registry.base import Registry
from aedetect.registry.sql import SqlRegistry

__all__ = ["Registry", "SqlRegistry"]
