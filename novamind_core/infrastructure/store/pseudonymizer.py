"""Keyed-hash (HMAC-SHA256) pseudonyms for patient identifiers."""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd

from novamind_core.infrastructure.store.keys import derive


class HmacPseudonymizer:
    """``p_`` + the first 24 hex digits of HMAC-SHA256(key, identifier).

    The same identifier always gets the same pseudonym under the same key, so tables
    still join; without the key, a pseudonym cannot be traced back or recomputed.
    """

    def __init__(self, master_key: bytes) -> None:
        self._key = derive(master_key, "pseudonym")

    def pseudonym(self, identifier: str) -> str:
        digest = hmac.new(self._key, identifier.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"p_{digest[:24]}"

    def pseudonymize_series(self, values: pd.Series) -> pd.Series:
        """Pseudonymize a column, hashing each distinct identifier once."""
        unique = pd.unique(values.dropna().astype(str))
        mapping = {value: self.pseudonym(value) for value in unique}
        return values.astype(object).map(mapping)
