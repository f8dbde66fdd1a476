"""The console's pages: sign-in, the registry, a version's review with its decision forms,
a model's audit trail and its latest drift report.

Server-rendered HTML (Jinja2, autoescaped); the decisions go through the same use cases
as `novamind models approve|reject|rollback`, with the signed-in reviewer as principal,
the reviewers' signing key of this host, and the same tags, audit entries and event.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import time
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from novamind_core.console.charts import line_charts
from novamind_core.console.patient_view import PSEUDONYM, fan_chart, fan_series, recent_observations
from novamind_core.console.sessions import (
    COOKIE,
    DECIDE_ROLES,
    PATIENT_ROLES,
    READ_ROLES,
    Session,
    Sessions,
)
from novamind_core.domain.errors import (
    AuthenticationError,
    AuthorizationError,
    ConfigurationError,
    NotFoundError,
    NovaMindError,
)
from novamind_core.domain.model_registry import CHALLENGER, CHAMPION
from novamind_core.domain.security import Role

log = logging.getLogger(__name__)
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
STATUS = {AuthorizationError: 403, AuthenticationError: 401, NotFoundError: 404}


def _page(template: str, status: int = 200, **context) -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template(template).render(**context), status_code=status)


def _safe_next(target: str | None) -> str:
    """Only a path of this site (no scheme, no host, no protocol-relative //)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def create_app(settings) -> FastAPI:
    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.security.tokens import token_service

    tokens = token_service(settings)
    try:
        signer = token_service(settings, signing=True)
    except ConfigurationError:
        signer = None
    users = json.loads(settings.console_users) if settings.console_users else {}
    sessions = Sessions(tokens, users, signer)
    registry = composition.model_registry()
    audit = composition.audit_trail(None, settings)
    app = FastAPI(title="NovaMind console", docs_url=None, redoc_url=None, openapi_url=None)

    def signed_in(request: Request, roles) -> Session | Response:
        session = sessions.current(request.cookies.get(COOKIE))
        if session is None:
            where = quote(request.url.path, safe="/")
            return RedirectResponse(f"/login?next={where}", status_code=303)
        try:
            session.principal.require(*roles)
        except AuthorizationError as exc:
            return _page("message.html", 403, session=session, title="Not allowed", text=str(exc))
        return session

    @app.get("/login")
    async def login_form(request: Request, next: str = "/", error: str = ""):
        return _page("login.html", next=_safe_next(next), error=error, passwords=bool(users))

    @app.post("/login")
    async def login(request: Request):
        form = await request.form()
        target = _safe_next(str(form.get("next", "")))
        try:
            if form.get("token"):
                token = sessions.from_token(str(form["token"])).token
            else:
                token = sessions.from_password(
                    str(form.get("user", "")), str(form.get("password", ""))
                )
            session = sessions.from_token(token)
        except (AuthenticationError, ValueError) as exc:
            log.info("console sign-in refused: %s", exc)
            return _page("login.html", 401, next=target, error=str(exc), passwords=bool(users))
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            session.token,
            max_age=max(1, int(session.expires - time.time())),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        audit.record("console_sign_in", "console", subject=session.principal.subject)
        return response

    @app.post("/logout")
    async def logout():
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get("/")
    async def home(request: Request):
        session = sessions.current(request.cookies.get(COOKIE))
        if session is None:
            return RedirectResponse("/login?next=/", status_code=303)
        clinician = Role.CLINICIAN in session.principal.roles
        return RedirectResponse("/patients" if clinician else "/models", status_code=303)

    @app.get("/models")
    async def models(request: Request):
        session = signed_in(request, READ_ROLES)
        if not isinstance(session, Session):
            return session
        overview = [
            {"name": name, "versions": [_row(v) for v in reversed(registry.versions(name))]}
            for name in registry.names()
        ]
        return _page("models.html", session=session, models=overview)

    def review_page(request, session, name, version, status=200, error="", done=""):
        from novamind_core.application.review_model import build_review
        from novamind_core.families import family_of
        from novamind_core.infrastructure.family_descriptor import load
        from novamind_core.infrastructure.registry.review_artifacts import MlflowReviewArtifacts

        try:
            content = load(family_of(name).review_content)
            review = build_review(registry, MlflowReviewArtifacts(registry), content, name, version)
        except NotFoundError as exc:
            return _page("message.html", 404, session=session, title="Not found", text=str(exc))
        candidate = review.candidate
        decide = can_decide(session)
        form = (
            {
                "csrf": sessions.csrf(session),
                "approve": sessions.new_form(session),
                "reject": sessions.new_form(session),
                "rollback": sessions.new_form(session),
            }
            if decide
            else None
        )
        return _page(
            "review.html",
            status,
            session=session,
            review=review,
            candidate=candidate,
            champion=review.champion,
            failed=[_gate_words(g) for g in candidate.failed_gates],
            charts=[base64.b64encode(png).decode() for png in review.charts],
            tables=[(t, line_charts(t.title, t.headers, t.rows)) for t in review.tables()],
            history=_history(registry.versions(name)),
            form=form,
            error=error,
            done=done,
            is_champion=CHAMPION in candidate.aliases,
            is_challenger=CHALLENGER in candidate.aliases,
        )

    @app.get("/models/{name}/versions/{version}")
    async def review(request: Request, name: str, version: str, done: str = ""):
        session = signed_in(request, READ_ROLES)
        if not isinstance(session, Session):
            return session
        return review_page(request, session, name, version, done=done)

    @app.post("/models/{name}/versions/{version}/{decision}")
    async def decide(request: Request, name: str, version: str, decision: str):
        session = signed_in(request, DECIDE_ROLES)
        if not isinstance(session, Session):
            return session
        form = await request.form()
        try:
            sessions.check_form(session, str(form.get("csrf", "")), str(form.get("form_id", "")))
            done = _decide(registry, audit, settings, session, name, version, decision, form)
        except NovaMindError as exc:
            status = STATUS.get(type(exc), 400)
            return review_page(request, session, name, version, status=status, error=str(exc))
        target = f"/models/{quote(name)}/versions/{quote(done[1])}?done={quote(done[0])}"
        return RedirectResponse(target, status_code=303)

    @app.get("/models/{name}/audit")
    async def model_audit(request: Request, name: str):
        session = signed_in(request, READ_ROLES)
        if not isinstance(session, Session):
            return session
        entries = [
            e
            for e in audit.entries()
            if str(e.get("resource", "")).split("/")[0] == name
            and str(e.get("action", "")).startswith(("promotion_", "approval", "load_refused"))
        ]
        problems = audit.verify()
        return _page(
            "audit.html",
            session=session,
            name=name,
            entries=list(reversed(entries)),
            problems=problems,
        )

    @app.get("/models/{name}/drift")
    async def drift(request: Request, name: str):
        session = signed_in(request, READ_ROLES)
        if not isinstance(session, Session):
            return session
        folder = composition.location(settings).child("drift", name)
        if not folder.exists("drift_report.html"):
            return _page(
                "message.html",
                404,
                session=session,
                title="No drift report",
                text=f"no drift report for {name} yet: run `novamind monitor drift --model {name}`",
            )
        return HTMLResponse(folder.read_bytes("drift_report.html").decode())

    @app.get("/patients")
    async def patient_lookup(request: Request):
        session = signed_in(request, PATIENT_ROLES)
        if not isinstance(session, Session):
            return session
        return _page("patients.html", session=session, csrf=sessions.csrf(session), error="")

    @app.post("/patients")
    async def patient_find(request: Request):
        session = signed_in(request, PATIENT_ROLES)
        if not isinstance(session, Session):
            return session
        form = await request.form()
        csrf = str(form.get("csrf", ""))
        if not hmac.compare_digest(csrf, sessions.csrf(session)):
            return _page(
                "message.html",
                403,
                session=session,
                title="Not allowed",
                text="the form's security token is missing or not this session's",
            )
        pseudonym = str(form.get("patient", "")).strip()
        if not PSEUDONYM.match(pseudonym):  # a raw identifier never reaches a URL or a log
            return _page(
                "patients.html",
                400,
                session=session,
                csrf=sessions.csrf(session),
                error="look a patient up by pseudonym ('p_' + 24 hex digits)",
            )
        return RedirectResponse(f"/patients/{pseudonym}", status_code=303)

    @app.get("/patients/{pseudonym}")
    async def patient(request: Request, pseudonym: str):
        session = signed_in(request, PATIENT_ROLES)
        if not isinstance(session, Session):
            return session
        if not PSEUDONYM.match(pseudonym):
            return _page(
                "message.html",
                400,
                session=session,
                title="Not a pseudonym",
                text="a patient is named by pseudonym ('p_' + 24 hex digits)",
            )
        answer, problem = await _twin_answer(settings, session, pseudonym)
        if answer is None:
            return _page(
                "message.html",
                502 if problem.startswith("the twin") else 404,
                session=session,
                title="No answer",
                text=problem,
            )
        past = recent_observations(settings, pseudonym)
        fans = [
            fan_chart(symptom, past.get(symptom, []), future)
            for symptom, future in fan_series(answer).items()
        ]
        return _page("patient.html", session=session, answer=answer, fans=fans, observed=bool(past))

    @app.get("/patients/{pseudonym}/events")
    async def patient_events(request: Request, pseudonym: str):
        """Server-sent events: one each time the twin pushes fresh insights."""
        session = signed_in(request, PATIENT_ROLES)
        if not isinstance(session, Session) or not PSEUDONYM.match(pseudonym):
            return Response(status_code=403)
        return StreamingResponse(
            _relay(settings, session, pseudonym), media_type="text/event-stream"
        )

    @app.get("/healthz")
    async def healthz():
        return {"status": "live"}

    return app


async def _twin_answer(settings, session: Session, pseudonym: str) -> tuple[dict | None, str]:
    """The twin's answer, asked with the clinician's own token (the twin audits them)."""
    import httpx

    url = f"{settings.console_twin_url.rstrip('/')}/v1/twin/{pseudonym}/insights"
    headers = {"Authorization": f"Bearer {session.token}"}
    try:
        async with httpx.AsyncClient(timeout=settings.twin_deadline + 5) as client:
            response = await client.get(url, headers=headers)
    except httpx.TransportError as exc:
        return (
            None,
            f"the twin at {settings.console_twin_url} cannot be reached ({type(exc).__name__})",
        )
    if response.status_code in (200, 503):  # 503: no part arrived; the page says why
        return response.json(), ""
    try:
        message = response.json().get("error", "")
    except ValueError:
        message = ""
    return None, message or f"the twin answered {response.status_code}"


async def _relay(settings, session: Session, pseudonym: str):
    """The twin's live pushes for a patient, as server-sent events (the browser reloads the
    page's figures on each); a comment line every 15 s keeps the stream open."""
    import asyncio

    import websockets

    url = settings.console_twin_url.replace("http", "ws", 1).rstrip("/")
    url += f"/v1/twin/{pseudonym}/live"
    headers = {"Authorization": f"Bearer {session.token}"}
    try:
        async with websockets.connect(url, additional_headers=headers) as socket:
            await socket.recv()  # the insights as of subscribing: the page shows them already
            yield ": subscribed\n\n"
            while True:
                try:
                    message = json.loads(await asyncio.wait_for(socket.recv(), 15))
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                reason = json.dumps(message.get("reason", "update"))
                yield f"event: insights\ndata: {reason}\n\n"
    except (OSError, websockets.WebSocketException) as exc:
        yield f"event: closed\ndata: {json.dumps(type(exc).__name__)}\n\n"


def can_decide(session: Session) -> bool:
    try:
        session.principal.require(*DECIDE_ROLES)
    except AuthorizationError:
        return False
    return True


def _decide(registry, audit, settings, session, name, version, decision, form) -> tuple[str, str]:
    """Run the decision; (what was done, the version to show next)."""
    from novamind_core.application import promote_model
    from novamind_core.domain.errors import ValidationError
    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.events import announce

    note = str(form.get("note", "")).strip()
    principal = session.principal
    current = registry.get(name, version)  # NotFoundError: the version no longer exists
    if decision == "approve":
        override = form.get("override") == "on"
        reason = str(form.get("reason", "")).strip()
        if CHAMPION in current.aliases:
            raise ValidationError(f"{name} version {version} is already the champion")
        if CHALLENGER not in current.aliases and not (override and current.failed_gates):
            holder = registry.alias(name, CHALLENGER)
            raise ValidationError(
                f"{name} version {version} is no longer the challenger"
                + (f" (version {holder.version} is)" if holder else "")
            )
        if override and not reason:
            raise ValidationError("an override needs a reason, for the record")
        promote_model.approve(
            registry,
            audit,
            principal,
            name,
            version,
            note,
            override,
            reason,
            approvals=composition.approvals(settings, signing=True),
        )
        announce.promotion(settings, name, version, "approve")
        return "approved", version
    if decision == "reject":
        if not note:
            raise ValidationError("a rejection needs a note saying why")
        promote_model.reject(registry, audit, principal, name, version, note)
        return "rejected", version
    if decision == "rollback":
        restored = promote_model.rollback(registry, audit, principal, name, note)
        announce.promotion(settings, name, restored, "rollback")
        return "rolled back", restored
    raise NotFoundError(f"no decision called {decision!r}: approve, reject or rollback")


def _row(version) -> dict:
    tags = version.tags
    return {
        "version": version.version,
        "aliases": list(version.aliases),
        "dataset": tags.get("dataset_version", "-"),
        "gates": "passed"
        if not version.failed_gates
        else "failed: " + ", ".join(version.failed_gates),
        "drift": tags.get("drift.summary", "-"),
        "decision": tags.get("decision", "-"),
        "decided_by": tags.get("decision.reviewer", ""),
        "decided_at": tags.get("decision.at", ""),
    }


def _history(versions) -> list[dict]:
    rows = [
        {
            "version": v.version,
            "decision": v.tags["decision"],
            "reviewer": v.tags.get("decision.reviewer", ""),
            "at": v.tags.get("decision.at", ""),
            "note": v.tags.get("decision.note", ""),
        }
        for v in versions
        if "decision" in v.tags
    ]
    return sorted(rows, key=lambda r: r["at"], reverse=True)


def _gate_words(gate: str) -> str:
    """A failed gate in words."""
    return gate.replace("_", " ").capitalize() + ": not met"


def serve(settings, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_config=None)
