"""The biometric-correlation pipeline's components."""
