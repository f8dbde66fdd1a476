"""The store's latest dataset version, as the tables a server reads patients' histories from.

Read (decrypted) once per dataset version and kept while it stays the latest, so that a
request naming a patient by pseudonym costs a look-up, not a decryption.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


class StoredTables:
    def __init__(self, store, tables: Sequence[str]) -> None:
        self.store = store
        self.tables = tuple(tables)
        self._version: str | None = None
        self._frames: dict[str, pd.DataFrame] = {}

    def current(self) -> tuple[str, dict[str, pd.DataFrame]]:
        """(latest version, its tables), read again only when a new version was stored."""
        version = self.store.latest().version
        if version != self._version:
            self._frames = {name: self.store.read(version, name) for name in self.tables}
            self._version = version
        return version, self._frames
