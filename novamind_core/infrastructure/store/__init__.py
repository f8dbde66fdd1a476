"""The secure patient store: keyed-hash pseudonyms and encryption at rest."""
