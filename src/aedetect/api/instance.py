"""One server per data directory and port, checked before anything is touched.

An embedded server owns every job of its data directory: at start it fails the jobs a stopped
process left running. A second server started on the same directory would fail the first one's
running training, so :func:`claim_data_dir` takes an exclusive ``flock`` on a lock file there
(released by the kernel when the process ends, however it ends) and refuses to start, naming the
process that holds it. :func:`bind_port` binds the listening socket before the services start, so
a taken port is refused before any start-up housekeeping too. In the cluster topology (the celery
runner) several API processes share the registry; there the workers' leases decide.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from aedetect.errors import Conflict, InvalidInput

LOCK_NAME = "aedetect-server.lock"


def claim_data_dir(data_dir: Path, port: int) -> IO[str]:
    """Lock ``data_dir`` for this process (kept while the returned file stays open), or refuse
    with the pid and port of the server that holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
            handle.close()
            raise
        handle.seek(0)
        holder = handle.read().strip() or "an unknown process"
        handle.close()
        raise Conflict(
            f"another aedetect server ({holder}) is running on the data directory {data_dir.resolve()}; "
            "a second one would fail its running jobs. Stop it first, or give this one its own "
            "directory with AEDETECT_DATA_DIR (and its own port with --port or AEDETECT_PORT)",
            field="data_dir",
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}, port {port}\n")
    handle.flush()
    return handle


def bind_port(host: str, port: int, backlog: int) -> socket.socket:
    """A listening socket on ``host:port``, or a refusal that says how to choose another port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise InvalidInput(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (another server or program uses the "
            "port?); choose another one with --port or AEDETECT_PORT",
            field="port",
        ) from None
    sock.set_inheritable(True)
    return sock
