"""The data directory, private to the user who runs Lamina.

It holds the store (every prompt and output), its WAL and journal, the admin token,
the secret that signs session cookies and ``server.json``. Lamina makes it 0700 and
every file in it 0600: when it makes it, at each start on one that others could
read (one log line says how many were changed), and from then on through the
process's umask (0077), so what DuckDB creates there (the WAL, ``tmp/``) is private
from the first byte.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger("lamina.datadir")

ADMIN_TOKEN = "admin.token"
COOKIE_SECRET = "cookie.secret"
_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def make_private(data_dir: Path) -> None:
    """Create ``data_dir`` (0700) or take from others every access to it and to what it
    holds; files made by this process afterwards are private too (umask 0077)."""
    os.umask(0o077)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths = [data_dir]
    for folder, folders, files in os.walk(data_dir):  # symlinks: neither followed nor changed
        paths += [Path(folder) / name for name in (*folders, *files)]
    changed, failed = 0, []
    for path in paths:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode) or not mode & _OTHERS:
            continue
        try:
            path.chmod(stat.S_IMODE(mode) & ~_OTHERS)
            changed += 1
        except OSError as exc:
            failed.append(f"{path} ({exc.strerror})")
    if changed:
        log.warning(
            "Made %d files and folders in the data directory %s readable by their owner only "
            "(others could read them, and with them every prompt and the cookie secret).",
            changed,
            data_dir,
        )
    if failed:
        log.warning(
            "Could not make these readable by their owner only (change their owner or mode "
            "by hand): %s",
            ", ".join(failed[:5]) + (" ..." if len(failed) > 5 else ""),
        )


def secret(data_dir: Path, name: str) -> str:
    """The secret kept in the file ``name`` of the data dir (0600), made on first use."""
    path = data_dir / name
    try:
        kept = path.read_text().strip()
    except FileNotFoundError:
        kept = ""
    if kept:
        return kept
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    made = secrets.token_urlsafe(48 if name == COOKIE_SECRET else 32)
    write_private(path, made.encode())
    return made


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, readable by its owner only, never through a symlink."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)  # it may have existed with a wider mode
        handle.write(data)
