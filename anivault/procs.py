"""Whether the process that recorded a run is still alive (for `anivault status` and `run --resume`)."""

from __future__ import annotations

import os
import socket


def process_alive(pid: int | None, host: str | None) -> bool:
    """True unless ``pid`` on ``host`` is provably gone. A process on another machine (a library on a shared
    disk) cannot be probed from here: it counts as alive, so no command takes over a run that may still be
    going; on Windows, without a cheap probe, the same."""
    if not pid:
        return False
    if host and host != socket.gethostname():
        return True
    if pid == os.getpid():
        return False  # a run this very process recorded and left: not another process
    if os.name != "posix":  # pragma: no cover
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True
