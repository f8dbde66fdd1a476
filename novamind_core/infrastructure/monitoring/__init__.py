"""What served models saw and answered: payload logs for drift monitoring."""
