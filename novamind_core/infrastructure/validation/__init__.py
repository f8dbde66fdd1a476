"""Data contracts (feature_specs/) and their enforcement with Great Expectations."""
