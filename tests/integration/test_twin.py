"""`novamind twin serve` end to end: real model servers on loopback, the machine's Redis,
a real Kafka-protocol broker (tansu), the twin as a subprocess, spoken to over HTTP and
WebSocket only.

Upstreams: one `novamind serve` with the symptom forecaster's approved champion (a small
model trained here), one serving the correlator and the medication-response model with
no champion (both answer 503, "not ready"). The full three-family answer is in
`test_twin_full.py` (slow: it trains the other two families' pipelines).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from novamind_core.domain.security import Role
from novamind_core.infrastructure.security.tokens import TokenService
from tests.integration.test_serving import (
    API_KEY,
    AUDIT_KEY,
    JWT_SECRET,
    KEY,
    Server,
    audit_trail_of,
)
from tests.integration.test_serving import registry as registry
from tests.support.console_server import start_console
from tests.support.kafka_broker import Broker, free_port

REDIS_URL = "redis://127.0.0.1:6379/13"
RAW_ID_FIELD = "patient_id"


def _redis():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    return client


class Twin:
    """``novamind twin serve`` in a subprocess."""

    def __init__(self, env: dict[str, str], workdir: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.workdir = workdir
        self.stdout_path = workdir / "twin.stdout"
        self.stderr_path = workdir / "twin.stderr"
        tokens = TokenService(JWT_SECRET)
        self.token = tokens.mint("dr-twin-test", [Role.CLINICIAN])
        self.reviewer = tokens.mint("rev-twin-test", [Role.REVIEWER])

    def start(self, timeout: float = 60.0) -> Twin:
        self._files = [self.stdout_path.open("wb"), self.stderr_path.open("wb")]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "novamind_core.cli", "twin", "serve", "--port", str(self.port)],
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._files[0],
            stderr=self._files[1],
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the twin exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the twin was not ready within {timeout} s:\n{self.log()}")
            time.sleep(0.25)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for f in self._files:
            f.close()

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-4000:]

    def get(self, path: str, token: str | None = "clinician", **params) -> httpx.Response:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {self.token if token == 'clinician' else token}"
        return httpx.get(f"{self.base}{path}", params=params, headers=headers, timeout=30)

    def insights(self, patient: str, **params) -> httpx.Response:
        return self.get(f"/v1/twin/{patient}/insights", **params)


@pytest.fixture(scope="module")
def stack(registry, tmp_path_factory):
    """The two model servers, Redis (db 13, emptied), tansu and the twin."""
    cache = _redis()
    cache.flushdb()
    root = tmp_path_factory.mktemp("twin")
    broker = Broker(root).start()
    forecaster = Server(registry.env | {"NOVAMIND_OTEL_EXPORTER": "console"}, root, "forecaster")
    forecaster.options += ["--model", "symptom-forecaster"]
    others = Server(registry.env, root, "others")
    others.options += ["--model", "biometric-correlator", "--model", "medication-response"]
    others.ready_path = "/v2/health/live"  # no champion: live, never ready
    twin = None
    try:
        forecaster.start()
        others.start()
        env = registry.env | {
            "NOVAMIND_TWIN_FORECASTER_URL": forecaster.base,
            "NOVAMIND_TWIN_CORRELATOR_URL": others.base,
            "NOVAMIND_TWIN_MEDICATION_URL": others.base,
            "NOVAMIND_TWIN_CALL_TIMEOUT": "0.5",
            "NOVAMIND_TWIN_DEADLINE": "2.0",
            "NOVAMIND_TWIN_RETRIES": "1",
            "NOVAMIND_TWIN_BREAKER_FAILURES": "2",
            "NOVAMIND_TWIN_BREAKER_RESET_SECONDS": "2",
            "NOVAMIND_REDIS_URL": REDIS_URL,
            "NOVAMIND_KAFKA_BOOTSTRAP": broker.bootstrap,
            "NOVAMIND_OTEL_EXPORTER": "console",
            "NOVAMIND_LOG_LEVEL": "DEBUG",
        }
        twin = Twin(env, root).start()
        yield {
            "twin": twin,
            "forecaster": forecaster,
            "others": others,
            "broker": broker,
            "redis": cache,
            "env": env,
            "registry": registry,
        }
    finally:
        if twin is not None:
            twin.stop()
        forecaster.stop()
        others.stop()
        broker.stop()
        cache.flushdb()


def _patient(stack, index: int = 0) -> str:
    return stack["registry"].keys[index]


def test_the_forecast_part_comes_from_the_served_champion_and_is_cached(stack):
    twin, patient = stack["twin"], _patient(stack)
    first = twin.insights(patient, include="forecast")
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["patient"] == patient and answer["cached"] is False
    assert answer["unavailable"] == []
    assert answer["sources"]["symptom_forecast"] == {
        "model": "symptom-forecaster",
        "version": stack["registry"].version,
        "duration_ms": answer["sources"]["symptom_forecast"]["duration_ms"],
    }
    forecast = answer["symptom_forecast"]
    assert forecast["target"] == "mood" and forecast["days_requested"] == 14
    assert forecast["days"] == 7 and len(forecast["forecast"]) == 7
    assert "trained for a 7-day horizon" in forecast["note"]
    second = twin.insights(patient, include="forecast").json()
    assert second["cached"] is True and second["generated_at"] == answer["generated_at"]
    # in Redis, under the patient's prefix, and sealed
    keys = stack["redis"].keys(f"novamind:twin:{patient}:*")
    assert len(keys) == 1
    blob = stack["redis"].get(keys[0])
    assert b"symptom-forecaster" not in blob and patient.encode() not in blob
    # audited like a prediction: who, which pseudonym, which version
    entries = [e for e in audit_trail_of(stack["env"]).entries() if e["action"] == "twin_insights"]
    assert entries[-1]["details"]["subject"] == "dr-twin-test"
    assert entries[-1]["details"]["patients"] == [patient]
    assert entries[-1]["details"]["sources"] == {"symptom_forecast": stack["registry"].version}


def test_parts_whose_model_has_no_champion_are_marked_unavailable(stack):
    answer = stack["twin"].insights(_patient(stack, 1))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["symptom_forecast"] is not None
    reasons = {u["part"]: u["reason"] for u in body["unavailable"]}
    assert reasons == {
        "biometric_correlations": "no_champion",
        "medication_predictions": "no_champion",
    }
    assert body["biometric_correlations"] is None and body["medication_predictions"] is None


@pytest.mark.parametrize(
    "patient, params, status, message",
    [
        ("MRN-0000042", {}, 400, "must be named by pseudonym"),
        (None, {"forecast_days": "31"}, 400, "NOVAMIND_MAX_FORECAST_HORIZON"),
        (None, {"include": "forecast,genome"}, 400, "unknown part"),
        (None, {"lookback_days": "9999"}, 400, "lookback_days must lie between"),
        ("p_" + "0" * 24, {"include": "forecast"}, 404, "no model server holds data"),
    ],
)
def test_bad_requests_get_a_clear_4xx(stack, patient, params, status, message):
    response = stack["twin"].insights(patient or _patient(stack), **params)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert "MRN-0000042" not in response.text and "genome" not in response.text


def test_the_twin_needs_a_signed_in_caller_with_a_role_that_may_ask(stack):
    twin, path = stack["twin"], f"/v1/twin/{_patient(stack)}/insights"
    assert twin.get(path, token=None).status_code == 401
    assert twin.get(path, token="forged.token.here").status_code == 401
    assert twin.get(path, token=twin.reviewer).status_code == 403
    assert httpx.get(f"{twin.base}/healthz").status_code == 200
    assert "novamind_twin_insights_total" in httpx.get(f"{twin.base}/metrics").text


async def _websocket_push(stack, patient: str, bad_events: list[bytes]) -> tuple[dict, dict, list]:
    import websockets
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from novamind_core.infrastructure.events import topics

    twin, bootstrap = stack["twin"], stack["broker"].bootstrap
    url = f"ws://127.0.0.1:{twin.port}/v1/twin/{patient}/live?include=forecast"
    watcher = AIOKafkaConsumer(
        topics.TWIN_INSIGHTS,
        topics.DEAD_LETTERS,
        bootstrap_servers=bootstrap,
        group_id=f"test-{time.time()}",
        auto_offset_reset="earliest",
    )
    await watcher.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        headers = {"Authorization": f"Bearer {twin.token}"}
        async with websockets.connect(url, additional_headers=headers) as socket:
            first = json.loads(await asyncio.wait_for(socket.recv(), 20))
            for bad in bad_events:
                await producer.send_and_wait(topics.SYMPTOM_UPDATES, bad)
            env = stack["env"] | {"NOVAMIND_LOG_LEVEL": "WARNING"}
            published = await asyncio.to_thread(
                subprocess.run,
                [
                    sys.executable,
                    "-m",
                    "novamind_core.cli",
                    "events",
                    "publish",
                    "--patient",
                    patient,
                    "--value",
                    "phq9=14",
                    "--value",
                    "sleep_hours=5.5",
                ],
                env=env,
                cwd=twin.workdir,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert published.returncode == 0, published.stderr
            pushed = json.loads(await asyncio.wait_for(socket.recv(), 30))
        seen = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (
            any(m.topic == topics.TWIN_INSIGHTS for m in seen)
            and sum(m.topic == topics.DEAD_LETTERS for m in seen) >= len(bad_events)
        ):
            batch = await watcher.getmany(timeout_ms=500)
            seen += [m for messages in batch.values() for m in messages]
        return first, pushed, seen
    finally:
        await producer.stop()
        await watcher.stop()


def test_an_event_invalidates_the_cache_and_the_websocket_gets_fresh_insights(stack):
    twin, patient = stack["twin"], _patient(stack, 2)
    before = twin.insights(patient, include="forecast").json()
    assert twin.insights(patient, include="forecast").json()["cached"] is True
    raw = stack["registry"].raw_patients[RAW_ID_FIELD].iloc[2]
    bad = [
        b"not json at all",
        json.dumps(
            {
                "patient": raw,
                "kind": "self_report",
                "values": {"phq9": 3},
                "emitted_at": "2026-01-01T00:00:00Z",
            }
        ).encode(),
        json.dumps(
            {
                "patient": patient,
                "kind": "self_report",
                "values": {"phq9": 99},
                "emitted_at": "2026-01-01T00:00:00Z",
            }
        ).encode(),
    ]
    first, pushed, seen = asyncio.run(_websocket_push(stack, patient, bad))
    assert first["type"] == "insights" and first["reason"] == "subscribed"
    assert pushed["type"] == "insights" and pushed["reason"] == "symptom update (self_report)"
    assert pushed["insights"]["patient"] == patient
    assert pushed["insights"]["generated_at"] > before["generated_at"]  # computed afresh
    from novamind_core.infrastructure.events import topics

    letters = [json.loads(m.value) for m in seen if m.topic == topics.DEAD_LETTERS]
    assert [letter["reason"] for letter in letters][:1] == ["not JSON"]
    assert len(letters) == 3 and all(raw not in json.dumps(letter) for letter in letters)
    insights = [json.loads(m.value) for m in seen if m.topic == topics.TWIN_INSIGHTS]
    assert insights and insights[-1]["patient"] == patient
    for message in seen:
        assert message.key in (None, patient.encode())
    assert 'novamind_twin_events_total{outcome="rejected"' in httpx.get(f"{twin.base}/metrics").text


def _until_uncached(twin: Twin, patient: str, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if twin.insights(patient, include="forecast").json()["cached"] is False:
            return True
        time.sleep(0.2)
    return False


def test_promotions_and_stored_datasets_announced_by_commands_reach_the_twin(stack):
    from novamind_core.infrastructure.events import announce
    from novamind_core.infrastructure.settings import load_settings

    twin, patient = stack["twin"], _patient(stack, 5)
    settings = load_settings(kafka_bootstrap=stack["broker"].bootstrap)
    twin.insights(patient, include="forecast")
    assert twin.insights(patient, include="forecast").json()["cached"] is True
    version = stack["registry"].version
    assert announce.promotion(settings, "symptom-forecaster", version, "approve") == 1
    assert _until_uncached(twin, patient)  # a promotion clears every cached answer
    assert twin.insights(patient, include="forecast").json()["cached"] is True
    assert announce.dataset_stored(settings, "v0002", [patient]) == 1
    assert _until_uncached(twin, patient)  # a stored dataset drops its patients' answers
    # no bootstrap: nothing is sent, nothing fails
    assert (
        announce.promotion(
            load_settings(kafka_bootstrap=None), "symptom-forecaster", "1", "rollback"
        )
        == 0
    )


@pytest.fixture(scope="module")
def console(stack):
    """`novamind console` pointed at the twin (the clinician's patient pages)."""
    root = stack["twin"].workdir
    env = stack["env"] | {"NOVAMIND_CONSOLE_TWIN_URL": stack["twin"].base}
    proc, base, log = start_console(env, root)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


def test_a_clinician_sees_the_patients_twin_in_the_browser_and_it_refreshes(stack, console):
    from tests.integration.test_console import BROWSER_ARGS, CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make test installs it with apt)")
    from playwright.sync_api import sync_playwright

    twin, patient = stack["twin"], _patient(stack, 6)
    raw = str(stack["registry"].raw_patients[RAW_ID_FIELD].iloc[6])
    shots = stack["registry"].data_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_context().new_page()
        page.goto(f"{console}/")
        page.fill("#token", twin.token)  # a clinician's token
        page.click("#sign-in")
        page.wait_for_load_state()
        assert page.url.endswith("/patients")
        page.fill("#patient", raw)  # a raw identifier: refused, never echoed or put in a URL
        page.click("#look-up")
        page.wait_for_load_state()
        assert "by pseudonym" in page.inner_text("#error") and raw not in page.content()
        assert raw not in page.url
        page.fill("#patient", patient)
        page.click("#look-up")
        page.wait_for_load_state()
        assert page.url.endswith(f"/patients/{patient}")
        assert page.locator("svg.fan").count() == 1
        assert page.locator("svg.fan circle.observed").count() > 5  # past observations
        assert page.locator("svg.fan polygon.band").count() == 1
        assert "no_champion" in page.inner_text("#unavailable")
        page.screenshot(path=str(shots / "patient.png"), full_page=True)
        before = page.inner_text("#generated")
        page.wait_for_function("() => document.getElementById('live') !== null", timeout=5000)
        time.sleep(1.0)  # the page's event stream subscribes to the twin
        published = subprocess.run(
            [
                sys.executable,
                "-m",
                "novamind_core.cli",
                "events",
                "publish",
                "--patient",
                patient,
                "--value",
                "mood=3",
            ],
            env=stack["env"] | {"NOVAMIND_LOG_LEVEL": "WARNING"},
            cwd=twin.workdir,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert published.returncode == 0, published.stderr
        changed = f"() => document.getElementById('generated').innerText !== {json.dumps(before)}"
        page.wait_for_function(changed, timeout=30000)
        assert page.inner_text("#generated") != before  # reloaded with fresh insights
        assert raw not in page.content()
        browser.close()
    console_log = (twin.workdir / "console.log").read_text(errors="replace")
    assert raw not in console_log and "Traceback" not in console_log
    reviewer = httpx.post(f"{console}/login", data={"token": twin.reviewer, "next": "/"})
    page = httpx.get(f"{console}/patients/{patient}", cookies=reviewer.cookies)
    assert page.status_code == 403  # patient pages are for clinicians


def test_a_websocket_without_credentials_is_closed(stack):
    import websockets

    twin = stack["twin"]

    async def attempt(headers):
        url = f"ws://127.0.0.1:{twin.port}/v1/twin/{_patient(stack)}/live"
        try:
            async with websockets.connect(url, additional_headers=headers) as socket:
                if not headers:  # no token in the handshake: the first message must hold one
                    await socket.send(json.dumps({"hello": 1}))
                await asyncio.wait_for(socket.recv(), 10)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code
        return None

    assert asyncio.run(attempt({})) == 4401
    assert asyncio.run(attempt({"Authorization": f"Bearer {twin.reviewer}"})) == 4403


def test_a_hanging_server_times_out_opens_the_breaker_and_recovers(stack):
    twin, forecaster, patient = stack["twin"], stack["forecaster"], _patient(stack, 3)
    os.kill(forecaster.proc.pid, signal.SIGSTOP)  # a real hang: connections, no answers
    try:
        started = time.perf_counter()
        hung = twin.insights(patient, include="forecast")
        hung_seconds = time.perf_counter() - started
        assert hung.status_code == 503 and hung_seconds < 2.5
        [missing] = hung.json()["unavailable"]
        assert missing["reason"] == "timeout", missing
        started = time.perf_counter()
        opened = twin.insights(patient, include="forecast")
        assert opened.json()["unavailable"][0]["reason"] == "circuit_open"
        assert time.perf_counter() - started < 0.5  # answered without waiting on the server
        assert (
            'novamind_twin_breaker_state{model="symptom-forecaster"} 2.0'
            in httpx.get(f"{twin.base}/metrics").text
        )
    finally:
        os.kill(forecaster.proc.pid, signal.SIGCONT)
    time.sleep(2.2)  # the breaker's reset time: it half-opens and lets a probe through
    recovered = twin.insights(patient, include="forecast")
    assert recovered.status_code == 200 and recovered.json()["unavailable"] == []
    assert (
        'novamind_twin_breaker_state{model="symptom-forecaster"} 0.0'
        in httpx.get(f"{twin.base}/metrics").text
    )


def test_a_stopped_server_leaves_a_partial_answer_within_the_deadline(stack):
    stack["others"].stop()
    started = time.perf_counter()
    response = stack["twin"].insights(_patient(stack, 4))
    assert time.perf_counter() - started < 2.5
    assert response.status_code == 200
    body = response.json()
    assert body["symptom_forecast"] is not None
    reasons = {u["part"]: (u["reason"], u["detail"]) for u in body["unavailable"]}
    assert set(reasons) == {"biometric_correlations", "medication_predictions"}
    assert all(r == "error" and "cannot reach" in d for r, d in reasons.values())


def _spans(text: str) -> list[dict]:
    """The JSON spans the console exporter printed, one object after another."""
    decoder, spans, i = json.JSONDecoder(), [], 0
    while (start := text.find("{", i)) != -1:
        try:
            span, i = decoder.raw_decode(text, start)
        except ValueError:
            i = start + 1
            continue
        if isinstance(span, dict) and "context" in span:
            spans.append(span)
    return spans


def test_traces_cross_from_the_twin_into_the_model_server(stack):
    twin_spans = _spans(stack["twin"].stdout_path.read_text(errors="replace"))
    server_spans = _spans(stack["forecaster"].stdout_path.read_text(errors="replace"))
    calls = [s for s in twin_spans if s["name"] == "twin.call symptom-forecaster"]
    served = [s for s in server_spans if s["name"] == "POST /v1/models/{model}:predict"]
    assert calls and served
    by_id = {s["context"]["span_id"]: s for s in calls}
    children = [s for s in served if s["parent_id"] in by_id]
    assert children, "no model-server span is a child of a twin call"
    for child in children:
        assert child["context"]["trace_id"] == by_id[child["parent_id"]]["context"]["trace_id"]
    roots = {  # a client's request, a live subscription, or a refresh on an event
        s["context"]["trace_id"]
        for s in twin_spans
        if s["name"] in ("twin.insights", "twin.refresh", "twin.live")
    }
    assert {c["context"]["trace_id"] for c in children} <= roots


def test_no_raw_identifier_in_any_log_span_event_or_cache_entry(stack):
    raw = stack["registry"].raw_patients
    needles = [str(v) for v in raw[RAW_ID_FIELD]] + [str(v) for v in raw["name"]]
    texts = {
        "twin log": stack["twin"].stderr_path.read_text(errors="replace"),
        "twin spans": stack["twin"].stdout_path.read_text(errors="replace"),
        "forecaster spans": stack["forecaster"].stdout_path.read_text(errors="replace"),
    }
    blobs = [stack["redis"].get(k) for k in stack["redis"].keys("novamind:twin:*")]
    texts["cache"] = b"".join(b for b in blobs if b).decode("latin-1")
    texts["cache keys"] = " ".join(k.decode() for k in stack["redis"].keys("*"))
    for where, text in texts.items():
        for needle in needles:
            assert needle not in text, f"a raw identifier or name in the {where}"
    # the pseudonyms travel, the patients' own figures never in clear in the cache
    assert "forecast" not in texts["cache"]
    assert base64.b64encode(KEY).decode() not in texts["twin log"] + texts["twin spans"]
    assert API_KEY not in texts["twin log"] and AUDIT_KEY.hex() not in texts["twin log"]
