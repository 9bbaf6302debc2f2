"""An LLM judge's API key, kept encrypted in the store.

The key that encrypts them is the data directory's file ``evaluators.key`` (0600, made
on first use, as the admin token is): a copy of the store alone (a DuckDB file, a
ClickHouse backup) does not reveal an evaluator's API key. Fernet (AES-128-CBC with an
HMAC, from ``cryptography``) seals it. Servers sharing a ClickHouse store each need
the same file to read the keys another stored; a server that cannot read one records
the run's error saying so (or use ``api_key_env``, read where the judge runs).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from lamina import datadir

KEY_FILE = "evaluators.key"
_PREFIX = "fernet:"


class Unreadable(Exception):
    """A sealed key this server's key file did not seal."""


class KeyBox:
    def __init__(self, data_dir: Path) -> None:
        secret = datadir.secret(data_dir, KEY_FILE)
        digest = hashlib.sha256(secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, api_key: str) -> str:
        return _PREFIX + self._fernet.encrypt(api_key.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.removeprefix(_PREFIX).encode()).decode()
        except InvalidToken:
            raise Unreadable(
                f"This server cannot read the evaluator's API key: another server's "
                f"{KEY_FILE} encrypted it. Copy that file into this server's data "
                "directory, give the key again, or use api_key_env."
            ) from None
