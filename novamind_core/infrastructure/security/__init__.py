"""Tokens and API keys."""
