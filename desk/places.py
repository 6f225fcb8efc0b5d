"""Where the desk keeps its data and where it looks for arriving files, on each system.

The data folder holds sealed things only (the files as the bot sent them, and the desk's own
sealed state), in the place each system sets aside for an application's data of one user; the
inbox is the folder a browser saves downloads into, where a file saved from Telegram lands.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def default_data_folder() -> Path:
    """``%LOCALAPPDATA%\\Sanad\\desk`` on Windows, ``~/Library/Application Support/Sanad/desk``
    on macOS, ``$XDG_DATA_HOME/sanad/desk`` (``~/.local/share``) elsewhere."""
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA")
        return (Path(base) if base else Path.home() / "AppData" / "Local") / "Sanad" / "desk"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Sanad" / "desk"
    base = os.environ.get("XDG_DATA_HOME")
    return (Path(base) if base else Path.home() / ".local" / "share") / "sanad" / "desk"


def default_inbox() -> Path:
    """The user's Downloads folder (the same name on Windows, macOS and most Linux desktops)."""
    return Path.home() / "Downloads"
