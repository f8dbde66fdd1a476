"""Error types of the platform (the design document's error-handling section).

Every error carries a message meant for a person: it says what was wrong and where,
and never contains a raw patient identifier.
"""

from __future__ import annotations


class NovaMindError(Exception):
    """Base class of every error the platform raises on purpose."""

    exit_code = 1


class ValidationError(NovaMindError):
    """Input data or a request failed validation."""

    exit_code = 1


class ConfigurationError(NovaMindError):
    """A setting is missing or has an invalid value."""

    exit_code = 2


class DataProcessingError(NovaMindError):
    """Data could not be read, transformed or written."""

    exit_code = 3


class ModelInferenceError(NovaMindError):
    """A model failed to produce a prediction."""

    exit_code = 4


class ServiceUnavailableError(NovaMindError):
    """A dependent service did not answer in time."""

    exit_code = 5


class AuthenticationError(NovaMindError):
    """Credentials are missing, expired, forged or wrong (including encryption keys)."""

    exit_code = 6


class AuthorizationError(NovaMindError):
    """The caller is authenticated but lacks the role for the operation."""

    exit_code = 7


class NotFoundError(NovaMindError):
    """A named thing (dataset version, model, table) does not exist."""

    exit_code = 8
