"""`novamind console` in a real browser: Debian's chromium driven by Playwright (with
``executable_path``; Playwright's own browser download does not work here), against the
console on loopback over a real MLflow registry.

Versions of a small trained forecaster: 1 is the approved champion, 2 a challenger whose
gates passed, 3 a version whose gates failed. Screenshots of the main pages go to the
data directory's `screenshots/`.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from novamind_core.domain.security import Role
from novamind_core.infrastructure.security.tokens import TokenService
from novamind_core.infrastructure.settings import get_settings
from tests.support.approvals import approval_keys, sign_approval
from tests.support.console_server import start_console

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
KEY = bytes(range(32))
AUDIT_KEY = bytes(range(32, 64))
SECRET = "console-test-jwt-secret-" + "c" * 24
MODEL = "symptom-forecaster"
PASSING = {"mase_below_seasonal_naive": True, "interval_coverage_within_5_points": True}
FAILING = {"mase_below_seasonal_naive": False, "interval_coverage_within_5_points": True}
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    from mlflow.tracking import MlflowClient

    from novamind_core.families.forecasting.registration import register_forecaster
    from tests.support.tiny_forecaster import train_tiny_bundle

    root = tmp_path_factory.mktemp("console")
    public, pem = approval_keys(root / "reviewer")
    env = {
        "NOVAMIND_APPROVAL_PUBLIC_KEY": public,
        "NOVAMIND_APPROVAL_SIGNING_KEY_FILE": str(pem),
        "NOVAMIND_DATA_DIR": str(root / "data"),
        "NOVAMIND_ENCRYPTION_KEY": base64.urlsafe_b64encode(KEY).decode(),
        "NOVAMIND_AUDIT_KEY": base64.urlsafe_b64encode(AUDIT_KEY).decode(),
        "NOVAMIND_JWT_SECRET": SECRET,
        "NOVAMIND_JWT_ALGORITHM": "HS256",
        "MLFLOW_TRACKING_URI": f"sqlite:///{(root / 'mlflow.db').as_posix()}",
    }
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("NOVAMIND_"):
                mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        mp.chdir(root)
        get_settings.cache_clear()
        try:
            _, evaluation, _ = train_tiny_bundle(root / "bundle", KEY, patients=40)
            dataset = {"version": "v0001", "fingerprint": "x" * 64}
            for gates in (PASSING, PASSING, FAILING):
                register_forecaster(
                    root / "bundle", evaluation, gates, dataset, "", None, trained_by="ml-engineer"
                )
            client = MlflowClient()
            sign_approval(pem, MODEL, "1")
            client.set_registered_model_alias(MODEL, "champion", "1")
            client.set_registered_model_alias(MODEL, "challenger", "2")
        finally:
            get_settings.cache_clear()
    server_env = {k: v for k, v in os.environ.items() if not k.startswith("NOVAMIND_")}
    proc, base, log = start_console(server_env | env | {"PYTHONUNBUFFERED": "1"}, root)
    tokens = TokenService(SECRET)
    shots = root / "data" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        yield {
            "base": base,
            "root": root,
            "env": env,
            "shots": shots,
            "client": MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"]),
            "reviewer": tokens.mint("dr-review", [Role.REVIEWER]),
            "engineer": tokens.mint("ml-engineer", [Role.ML_ENGINEER]),
            "clinician": tokens.mint("dr-clinic", [Role.CLINICIAN]),
            "tokens": tokens,
        }
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make test installs it with apt)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield browser
        browser.close()


def _sign_in(browser, console, token: str):
    page = browser.new_context().new_page()
    page.goto(f"{console['base']}/models")
    assert "/login?next=/models" in page.url
    page.fill("#token", token)
    page.click("#sign-in")
    page.wait_for_load_state()
    return page


def _session(console, token: str) -> httpx.Client:
    client = httpx.Client(base_url=console["base"], timeout=30)
    response = client.post("/login", data={"token": token, "next": "/models"})
    assert response.status_code == 303 and "novamind_session" in client.cookies
    return client


def _form(html: str, form: str) -> dict[str, str]:
    block = html[html.index(f'id="{form}-form"') :]
    return {
        "csrf": re.search(r'name="csrf" value="([0-9a-f]+)"', block).group(1),
        "form_id": re.search(r'name="form_id" value="([0-9a-f]+)"', block).group(1),
    }


def _audit(console, action: str) -> list[dict]:
    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.settings import load_settings

    settings = load_settings(
        **{
            k.removeprefix("NOVAMIND_").lower(): v
            for k, v in console["env"].items()
            if k.startswith("NOVAMIND_")
        }
    )
    trail = composition.audit_trail(None, settings)
    return [e for e in trail.entries() if e["action"] == action]


def test_a_page_without_a_session_redirects_to_sign_in(console, browser):
    page = browser.new_context().new_page()
    page.goto(f"{console['base']}/models/{MODEL}/versions/2")
    assert page.url.endswith(f"/login?next=/models/{MODEL}/versions/2")
    page.screenshot(path=str(console["shots"] / "sign-in.png"))
    forged = httpx.get(f"{console['base']}/models", cookies={"novamind_session": "x.y.z"})
    assert forged.status_code == 303 and forged.headers["location"].startswith("/login")


def test_an_expired_session_goes_back_to_sign_in(console):
    minted = time.time()
    short = console["tokens"].mint("dr-review", [Role.REVIEWER], ttl=timedelta(seconds=5))
    client = _session(console, short)  # valid when signing in
    assert client.get("/models").status_code == 200
    time.sleep(max(0.0, minted + 6.0 - time.time()))  # past its expiry
    assert client.get("/models").headers["location"] == "/login?next=/models"


def test_a_clinician_may_not_read_or_decide_and_nothing_changes(console):
    client = _session(console, console["clinician"])
    page = client.get("/models")
    assert page.status_code == 403 and "reviewer" in page.text
    posted = client.post(f"/models/{MODEL}/versions/2/approve", data={"csrf": "", "form_id": ""})
    assert posted.status_code == 403
    assert str(console["client"].get_model_version_by_alias(MODEL, "champion").version) == "1"


def test_an_ml_engineer_reads_the_review_without_decision_forms(console):
    page = _session(console, console["engineer"]).get(f"/models/{MODEL}/versions/2")
    assert page.status_code == 200
    assert 'id="read-only"' in page.text and 'id="approve-form"' not in page.text


def test_an_override_needs_a_reason_and_records_nothing_without_one(console):
    client = _session(console, console["reviewer"])
    html = client.get(f"/models/{MODEL}/versions/3").text
    assert "Mase below seasonal naive: not met" in html
    answer = client.post(
        f"/models/{MODEL}/versions/3/approve",
        data={**_form(html, "approve"), "override": "on", "reason": ""},
    )
    assert answer.status_code == 400 and "an override needs a reason" in answer.text
    assert console["client"].get_model_version(MODEL, "3").tags.get("decision") is None
    missing = client.post(f"/models/{MODEL}/versions/3/approve", data={"note": "x"})
    assert missing.status_code == 403 and "security token" in missing.text


def test_a_form_submitted_twice_is_recorded_once(console):
    client = _session(console, console["reviewer"])
    form = _form(client.get(f"/models/{MODEL}/versions/3").text, "reject")
    first = client.post(f"/models/{MODEL}/versions/3/reject", data={**form, "note": "worse MASE"})
    assert first.status_code == 303
    second = client.post(f"/models/{MODEL}/versions/3/reject", data={**form, "note": "worse MASE"})
    assert second.status_code == 403 and "already submitted" in second.text
    rejected = [e for e in _audit(console, "promotion_rejected") if e["resource"] == f"{MODEL}/3"]
    assert len(rejected) == 1
    assert console["client"].get_model_version(MODEL, "3").tags["decision"] == "rejected"


def test_a_reviewer_approves_the_challenger_in_the_browser(console, browser):
    page = _sign_in(browser, console, console["reviewer"])
    assert page.url.endswith("/models")
    assert page.locator(f"#model-{MODEL}").is_visible()
    page.screenshot(path=str(console["shots"] / "registry.png"), full_page=True)
    page.click(f"a[href='/models/{MODEL}/versions/2']")
    page.wait_for_load_state()
    assert page.locator("#summary").is_visible()
    # charts, not bare tables only: per-horizon MASE against the baselines and the
    # champion, and coverage against its target band, for the test and held-out windows
    assert page.locator("svg.chart").count() == 4
    assert page.locator("svg.chart title").first.text_content().endswith(": MASE")
    page.screenshot(path=str(console["shots"] / "review.png"), full_page=True)
    page.fill("#approve-note", "beats the champion on every horizon")
    page.click("#approve")
    page.wait_for_load_state()
    assert "Recorded: symptom-forecaster approved." in page.inner_text("#done")
    assert page.locator("h1 .pill.champion").is_visible()
    assert "dr-review" in page.inner_text("#history")
    assert str(console["client"].get_model_version_by_alias(MODEL, "champion").version) == "2"
    page.goto(f"{console['base']}/models/{MODEL}/audit")
    assert "verifies" in page.inner_text("#verdict")
    entries = page.inner_text("#entries")
    assert "promotion_approved" in entries and "dr-review" in entries
    page.screenshot(path=str(console["shots"] / "audit.png"), full_page=True)
    # the page's decision cannot be replayed: version 2 is the champion now
    client = _session(console, console["reviewer"])
    form = _form(client.get(f"/models/{MODEL}/versions/1").text, "approve")
    again = client.post(f"/models/{MODEL}/versions/1/approve", data=form)
    assert again.status_code == 400 and "no longer the challenger" in again.text
    form = _form(client.get(f"/models/{MODEL}/versions/1").text, "approve")  # a fresh form
    gone = client.post(f"/models/{MODEL}/versions/99/approve", data=form)
    assert gone.status_code == 404 and "99" in gone.text
    assert str(console["client"].get_model_version_by_alias(MODEL, "champion").version) == "2"


def test_the_session_cookie_is_httponly_and_samesite(console):
    response = httpx.post(
        f"{console['base']}/login", data={"token": console["reviewer"], "next": "//evil.example/x"}
    )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert response.headers["location"] == "/"  # no redirect off the site
