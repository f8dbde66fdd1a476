"""The daily variables of a forecaster's history: in requests, the grid and drift checks."""

KEY = "patient_key"
SYMPTOMS = ("phq9", "gad7", "mood")
BIOMETRICS = ("heart_rate_bpm", "hrv_rmssd_ms", "sleep_hours", "steps")
VARIABLES = (*SYMPTOMS, *BIOMETRICS)
