"""Where netblend keeps what it writes while it runs: never inside the source tree.

- ``user_dir()``: autosave, saved presets, learned MIDI bindings, snapshots, logs. ``$NETBLEND_HOME``
  when set, else the platform's user data folder (``~/.local/share/netblend`` on Linux,
  ``~/Library/Application Support/netblend`` on macOS, ``%LOCALAPPDATA%\\netblend`` on Windows).
- ``cache_dir()``: converted models, the demo pair, latent directions, compiled kernels.
  ``$NETBLEND_CACHE`` when set, else ``$NETBLEND_HOME/cache``, else the platform's user cache folder.

Shipped ``presets/`` and ``mappings/`` are read-only examples; user state goes here.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "netblend"


def user_dir(*parts: str) -> Path:
    """``$NETBLEND_HOME`` (or the platform's user data folder) joined with ``parts``; not created."""
    home = os.environ.get("NETBLEND_HOME")
    if home:
        base = Path(home).expanduser()
    else:
        from platformdirs import user_data_dir

        base = Path(user_data_dir(APP, appauthor=False))
    return base.joinpath(*parts)


def cache_dir(*parts: str) -> Path:
    """``$NETBLEND_CACHE``, ``$NETBLEND_HOME/cache`` or the platform's user cache folder, joined with
    ``parts``; not created."""
    if os.environ.get("NETBLEND_CACHE"):
        base = Path(os.environ["NETBLEND_CACHE"]).expanduser()
    elif os.environ.get("NETBLEND_HOME"):
        base = Path(os.environ["NETBLEND_HOME"]).expanduser() / "cache"
    else:
        from platformdirs import user_cache_dir

        base = Path(user_cache_dir(APP, appauthor=False))
    return base.joinpath(*parts)


def shipped_dir(kind: str) -> Path:
    """The read-only examples that ship with netblend (``kind`` = ``"presets"`` or ``"mappings"``):
    the project's own folder in a source checkout, else the copy a package install put under
    ``<prefix>/share/netblend/``."""
    checkout = Path(__file__).resolve().parents[2] / kind
    if checkout.is_dir():
        return checkout
    import sys

    return Path(sys.prefix) / "share" / APP / kind
