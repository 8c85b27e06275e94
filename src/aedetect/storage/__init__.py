"""The artifact store: uploads, models and scored files by key, in a directory (:class:`LocalStore`,
the default) or in S3-compatible object storage (:class:`S3Store`, the ``s3`` extra)."""

from aedetect.storage.base import TEMP_PREFIX, ArtifactStore, SetAside, check_key
from aedetect.storage.local import LocalStore

__all__ = ["TEMP_PREFIX", "ArtifactStore", "LocalStore", "SetAside", "check_key"]
