"""``novamind token``: mint a local development token."""

from __future__ import annotations

from datetime import timedelta

import typer

from novamind_core.cli.common import console, handles_errors
from novamind_core.domain.errors import ValidationError
from novamind_core.domain.security import Role
from novamind_core.infrastructure import composition


@handles_errors
def token(
    role: list[str] = typer.Option(..., help="clinician, ml_engineer, reviewer or service."),
    subject: str = typer.Option(..., help="Who the token speaks for (a user or service id)."),
    ttl_minutes: int = typer.Option(
        480, min=1, help="Lifetime in minutes (at most NOVAMIND_TOKEN_MAX_TTL_MINUTES)."
    ),
) -> None:
    """Mint a JWT with the token issuer's signing key (NOVAMIND_JWT_SIGNING_KEY_FILE)."""
    from novamind_core.infrastructure.security.tokens import token_service

    try:
        roles = [Role(r) for r in role]
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ValidationError(f"unknown role in {role}; known roles: {known}") from None
    settings = composition.settings()
    if ttl_minutes > settings.token_max_ttl_minutes:
        raise ValidationError(
            f"--ttl-minutes {ttl_minutes} is over the limit of {settings.token_max_ttl_minutes} "
            "(NOVAMIND_TOKEN_MAX_TTL_MINUTES)"
        )
    service = token_service(settings, signing=True)
    console.print(service.mint(subject, roles, timedelta(minutes=ttl_minutes)), soft_wrap=True)
