"""Human-readable reports (HTML pages)."""
