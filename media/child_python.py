"""Starting Python child processes that import only the installed code, never the current folder.

Python puts the current directory (``-c``, ``-m``) or the script's folder first on ``sys.path``.
The server's children are started that way: multiprocessing's fork server runs ``python -c`` and
imports the probe modules, the transcode child runs ``python -m media.hls.process``. A
``media.py`` in the folder ``revenge serve`` was started from would then shadow this package
and run inside them. Safe-path mode (``-P``, ``PYTHONSAFEPATH=1``, Python 3.11+) leaves that
entry out; the children find ``media`` where the server found it.

multiprocessing builds its command line itself, so the fork server gets safe-path mode from its
environment: ``safe_path_environment()`` sets ``PYTHONSAFEPATH=1`` while one may be started.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["child_environment", "python_module_command", "safe_path_environment"]

# The folder that holds this ``media`` package: what the server itself imported.
PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])
_SAFE_PATH = "PYTHONSAFEPATH"
_environment_lock = threading.Lock()


def python_module_command(module: str, *arguments: str) -> list[str]:
    """``python -P -m module arguments``: run ``module`` of this code base in a new Python."""
    return [sys.executable, "-P", "-m", module, *arguments]


def child_environment() -> dict[str, str]:
    """The server's environment, in safe-path mode, with this package's folder first on
    ``PYTHONPATH`` (so a child imports the same code even from an uninstalled checkout)."""
    environment = dict(os.environ)
    environment[_SAFE_PATH] = "1"
    extra = environment.get("PYTHONPATH")
    environment["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, extra) if p)
    return environment


@contextlib.contextmanager
def safe_path_environment() -> Iterator[None]:
    """``PYTHONSAFEPATH=1`` in this process's environment for the block: a Python that
    multiprocessing starts meanwhile (its fork server, a spawned worker) inherits it.

    Held under a lock and restored afterwards; a no-op when the operator already set it."""
    with _environment_lock:
        previous = os.environ.get(_SAFE_PATH)
        if previous != "1":
            os.environ[_SAFE_PATH] = "1"
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(_SAFE_PATH, None)
            elif previous != "1":
                os.environ[_SAFE_PATH] = previous
