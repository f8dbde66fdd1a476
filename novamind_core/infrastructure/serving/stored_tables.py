"""The store's latest dataset version, as the tables a server reads patients' histories from.

Read (decrypted) once per dataset version and indexed by pseudonym, so that a request
naming a patient costs a dictionary look-up and a slice, not a scan of every row (120
pseudonyms in one request once stalled the event loop for 1.4 s).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pandas as pd

KEY = "patient_key"


class StoredTables:
    def __init__(self, store, tables: Sequence[str]) -> None:
        self.store = store
        self.tables = tuple(tables)
        self._lock = threading.Lock()
        self._version: str | None = None
        self._frames: dict[str, pd.DataFrame] = {}
        self._index: dict[str, dict] = {}

    def rows(self, key: str) -> tuple[str, dict[str, pd.DataFrame]]:
        """(latest version, the patient's rows of each table), read again only when a new
        version was stored."""
        with self._lock:
            version = self.store.latest().version
            if version != self._version:
                self._frames = {name: self.store.read(version, name) for name in self.tables}
                self._index = {
                    name: frame.groupby(KEY, sort=False).indices
                    for name, frame in self._frames.items()
                }
                self._version = version
            frames, index = self._frames, self._index
        return version, {
            name: frame.iloc[index[name].get(key, [])] for name, frame in frames.items()
        }
