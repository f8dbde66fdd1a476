"""The biometric–symptom correlation family: alignment, lead–lag statistics, directed tests."""
