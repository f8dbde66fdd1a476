"""Structured logs with a PHI guard, and the tamper-evident audit trail."""
