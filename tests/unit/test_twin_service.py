"""The twin's fan-out, retries, breakers, deadline, cache and event handling, against fake
model servers behind an httpx transport (the real servers: tests/integration/test_twin.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import Counter

import httpx
import pytest

from novamind_core.infrastructure.events import topics
from novamind_core.infrastructure.events.bus import InProcessBus
from novamind_core.infrastructure.store.encryption import FileCipher
from novamind_core.twin.cache import MemoryCache, entry_key
from novamind_core.twin.live import EventHandler, Watchers
from novamind_core.twin.parts import Options
from novamind_core.twin.service import BadRequest, NotFound, Twin, check_request
from novamind_core.twin.upstreams import CallPolicy, Upstream, UpstreamClient

KEY = b"k" * 32
PATIENT = "p_0123456789abcdef01234567"
RAW_ID = "MRN-00412"
UPSTREAMS = {
    "forecast": Upstream("forecast", "symptom-forecaster", "http://forecaster"),
    "correlations": Upstream("correlations", "biometric-correlator", "http://correlator"),
    "medications": Upstream("medications", "medication-response", "http://medication"),
}


def forecaster_answer(key: str, version: str = "3") -> dict:
    points = [
        {
            "horizon": h,
            "day": f"2026-01-{h:02d}",
            "median": 10 + 0.6 * h,
            "lower": 8 + 0.6 * h,
            "upper": 12 + 0.6 * h,
        }
        for h in range(1, 8)
    ]
    return {
        "predictions": [
            {
                "patient_key": key,
                "model_version": version,
                "target": "phq9",
                "interval": 0.8,
                "forecast": points,
            }
        ]
    }


def correlator_answer(key: str) -> dict:
    relation = {
        "biometric": "sleep_hours",
        "symptom": "phq9",
        "lag_days": 1,
        "coefficient": -0.42,
        "q_value": 0.01,
        "significant": True,
    }
    edge = {"biometric": "sleep_hours", "symptom": "phq9", "lag_days": 1, "relation": "precedes"}
    return {
        "predictions": [
            {
                "patient_key": key,
                "model_version": "2",
                "tests": 96,
                "correlation_strength": [relation],
                "causal_graph": [edge],
                "forecast": [],
                "temporal_patterns": [],
                "exclusions": [],
            }
        ]
    }


def medication_answer(key: str) -> dict:
    drugs = [
        {
            "rank": 1,
            "drug": "sertraline",
            "efficacy_score": 0.61,
            "side_effect_risk": 0.3,
            "cpic_action": "standard",
            "dose_adjustment_percent": None,
            "recommendation": "",
        },
        {
            "rank": 2,
            "drug": "amitriptyline",
            "efficacy_score": 0.5,
            "side_effect_risk": 0.55,
            "cpic_action": "avoid",
            "dose_adjustment_percent": None,
            "recommendation": "Avoid tricyclic use.",
        },
    ]
    return {"predictions": [{"patient_key": key, "model_version": "5", "recommendations": drugs}]}


ANSWERS = {
    "forecaster": forecaster_answer,
    "correlator": correlator_answer,
    "medication": medication_answer,
}


class FakeServers:
    """Three model servers in one transport; each host's behaviour can be changed."""

    def __init__(self):
        self.behaviour = {host: "ok" for host in ANSWERS}
        self.calls: Counter = Counter()
        self.bodies: list[tuple[str, dict, dict]] = []
        self.failures_left: dict[str, int] = {}

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.calls[host] += 1
        body = json.loads(request.content)
        self.bodies.append((host, body, dict(request.headers)))
        mode = self.behaviour[host]
        if self.failures_left.get(host, 0) > 0:
            self.failures_left[host] -= 1
            mode = "500"
        if mode == "hang":
            await asyncio.sleep(30)
        if mode == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if mode == "500":
            return httpx.Response(500, json={"error": "internal error"})
        if mode == "503":
            return httpx.Response(503, json={"error": "the model or server is not ready"})
        if mode == "unknown":
            return httpx.Response(
                400, json={"error": f"instances[0]: no stored history for patient {PATIENT}"}
            )
        key = body["instances"][0]["patient_key"]
        return httpx.Response(200, json=ANSWERS[host](key))


def make_twin(servers: FakeServers, timeout=0.2, retries=2, failures=3, reset=0.3, deadline=1.0):
    policy = CallPolicy(
        timeout=timeout,
        retries=retries,
        breaker_failures=failures,
        breaker_reset_seconds=reset,
        backoff_initial=0.01,
        backoff_max=0.02,
    )
    client = UpstreamClient(policy, {"x-api-key": "k" * 32}, httpx.MockTransport(servers))
    return Twin(UPSTREAMS, client, MemoryCache(KEY, ttl=60), deadline)


OPTIONS = Options(
    forecast_days=14, lookback_days=30, include=("forecast", "correlations", "medications")
)


def run(coro):
    return asyncio.run(coro)


def test_a_full_answer_joins_the_three_parts():
    servers = FakeServers()
    answer, cached = run(make_twin(servers).insights(PATIENT, OPTIONS))
    assert not cached and answer["unavailable"] == []
    assert answer["patient"] == PATIENT
    assert {k: v["version"] for k, v in answer["sources"].items()} == {
        "symptom_forecast": "3",
        "biometric_correlations": "2",
        "medication_predictions": "5",
    }
    kinds = [r["kind"] for r in answer["integrated_recommendations"]]
    assert kinds[:2] == ["forecast_worsening", "medication_avoid"]
    assert {"actionable_relation", "best_medication"} <= set(kinds)
    worse = answer["integrated_recommendations"][0]
    assert worse["evidence"]["best_medication"] == "sertraline"
    assert worse["evidence"]["related_behaviours"][0]["biometric"] == "sleep_hours"
    # each server was asked once, by pseudonym only, as a service
    assert servers.calls == Counter({"forecaster": 1, "correlator": 1, "medication": 1})
    for host, body, headers in servers.bodies:
        instance = body["instances"][0]
        assert instance["patient_key"] == PATIENT and "history" not in instance
        assert headers["x-api-key"] == "k" * 32
        assert ("lookback_days" in instance) == (host == "correlator")


def test_the_forecast_is_capped_at_the_champions_horizon_and_says_so():
    answer, _ = run(make_twin(FakeServers()).insights(PATIENT, OPTIONS))
    part = answer["symptom_forecast"]
    assert part["days_requested"] == 14 and part["days"] == 7 and len(part["forecast"]) == 7
    assert "7-day horizon" in part["note"]
    short = Options(3, 30, ("forecast",))
    answer, _ = run(make_twin(FakeServers()).insights(PATIENT, short))
    assert [p["horizon"] for p in answer["symptom_forecast"]["forecast"]] == [1, 2, 3]
    assert "note" not in answer["symptom_forecast"]
    assert answer["biometric_correlations"] is None and answer["unavailable"] == []


def test_5xx_is_retried_with_backoff_and_a_4xx_is_not():
    servers = FakeServers()
    servers.failures_left["forecaster"] = 2
    servers.behaviour["medication"] = "unknown"
    answer, _ = run(make_twin(servers).insights(PATIENT, OPTIONS))
    assert answer["symptom_forecast"] is not None
    assert servers.calls["forecaster"] == 3 and servers.calls["medication"] == 1
    [missing] = answer["unavailable"]
    assert missing["part"] == "medication_predictions" and missing["reason"] == "error"
    assert "no stored history" in missing["detail"]


def test_a_hanging_server_times_out_and_the_answer_comes_partial_within_the_deadline():
    servers = FakeServers()
    servers.behaviour["correlator"] = "hang"
    started = time.perf_counter()
    answer, _ = run(
        make_twin(servers, timeout=0.2, retries=1, deadline=2.0).insights(PATIENT, OPTIONS)
    )
    assert time.perf_counter() - started < 1.0
    assert answer["symptom_forecast"] and answer["medication_predictions"]
    [missing] = answer["unavailable"]
    assert missing == {
        "part": "biometric_correlations",
        "model": "biometric-correlator",
        "reason": "timeout",
        "detail": "biometric-correlator: no answer within 0.2 s (2 attempts)",
    }
    assert servers.calls["correlator"] == 2
    assert any(r["kind"] == "forecast_worsening" for r in answer["integrated_recommendations"])


def test_the_overall_deadline_cuts_a_slow_part():
    servers = FakeServers()
    servers.behaviour["medication"] = "hang"
    started = time.perf_counter()
    answer, _ = run(make_twin(servers, timeout=5.0, deadline=0.3).insights(PATIENT, OPTIONS))
    assert time.perf_counter() - started < 0.8
    [missing] = answer["unavailable"]
    assert missing["reason"] == "deadline" and "0.3 s deadline" in missing["detail"]


def test_the_breaker_opens_after_repeated_failures_and_half_opens_to_probe():
    servers = FakeServers()
    servers.behaviour["forecaster"] = "down"
    twin = make_twin(servers, failures=3, reset=0.3)
    only = Options(7, 30, ("forecast",))

    async def scenario():
        reasons = []
        for _ in range(3):  # connection refused: not retried, each a breaker failure
            answer, _ = await twin.insights(PATIENT, only)
            reasons.append(answer["unavailable"][0]["reason"])
        calls_when_opened = servers.calls["forecaster"]
        answer, _ = await twin.insights(PATIENT, only)
        reasons.append(answer["unavailable"][0]["reason"])
        assert servers.calls["forecaster"] == calls_when_opened  # no call while open
        assert twin.client.breaker_state("symptom-forecaster") == "opened"
        servers.behaviour["forecaster"] = "ok"
        await asyncio.sleep(0.35)
        answer, _ = await twin.insights(PATIENT, only)  # the probe succeeds: closed again
        assert answer["unavailable"] == [] and answer["symptom_forecast"]
        assert twin.client.breaker_state("symptom-forecaster") == "closed"
        return reasons

    assert run(scenario()) == ["error", "error", "error", "circuit_open"]
    assert servers.calls["forecaster"] == 4


def test_4xx_and_not_ready_do_not_open_the_breaker():
    servers = FakeServers()
    servers.behaviour["medication"] = "503"
    twin = make_twin(servers, failures=2)
    only = Options(7, 30, ("medications",))

    async def scenario():
        for _ in range(4):
            answer, _ = await twin.insights(PATIENT, only)
            assert answer["unavailable"][0]["reason"] == "no_champion"
        return twin.client.breaker_state("medication-response")

    assert run(scenario()) == "closed"
    assert servers.calls["medication"] == 4


def test_nothing_known_about_the_patient_is_not_found():
    servers = FakeServers()
    servers.behaviour = {host: "unknown" for host in ANSWERS}
    with pytest.raises(NotFound):
        run(make_twin(servers).insights(PATIENT, OPTIONS))


def test_complete_answers_are_cached_partial_ones_are_not_and_an_event_forgets_them():
    servers = FakeServers()
    twin = make_twin(servers)

    async def scenario():
        first, hit1 = await twin.insights(PATIENT, OPTIONS)
        second, hit2 = await twin.insights(PATIENT, OPTIONS)
        assert (hit1, hit2) == (False, True) and second == first
        assert sum(servers.calls.values()) == 3
        other = Options(7, 30, OPTIONS.include)  # other options: another entry
        assert (await twin.insights(PATIENT, other))[1] is False
        assert await twin.forget(PATIENT) == 2
        assert (await twin.insights(PATIENT, OPTIONS))[1] is False
        servers.behaviour["correlator"] = "500"
        await twin.forget(PATIENT)
        partial, _ = await twin.insights(PATIENT, OPTIONS)
        assert partial["unavailable"]
        assert (await twin.insights(PATIENT, OPTIONS))[1] is False  # partial: not cached

    run(scenario())


def test_a_new_champion_version_makes_a_new_cache_key():
    servers = FakeServers()
    twin = make_twin(servers)
    run(twin.insights(PATIENT, OPTIONS))
    key = twin._key(PATIENT, OPTIONS)
    twin.versions["symptom-forecaster"] = "4"
    assert twin._key(PATIENT, OPTIONS) != key


def test_cache_entries_are_encrypted_and_bound_to_their_key():
    cache = MemoryCache(KEY, ttl=60)
    answer, _ = run(make_twin(FakeServers()).insights(PATIENT, OPTIONS))
    key = entry_key(PATIENT, OPTIONS.as_dict(), {})
    run(cache.put(key, answer))
    [blob] = cache.raw()
    assert b"sertraline" not in blob and PATIENT.encode() not in blob and b"phq9" not in blob
    assert run(cache.get(key)) == answer
    other = entry_key("p_" + "f" * 24, OPTIONS.as_dict(), {})
    cache._entries.setdefault("p_" + "f" * 24, {})[other] = cache._entries[PATIENT][key]
    assert run(cache.get(other)) is None  # moved under another key: does not decrypt


def test_cache_entries_expire():
    now = [0.0]
    cache = MemoryCache(KEY, ttl=10, clock=lambda: now[0])
    key = entry_key(PATIENT, {}, {})
    run(cache.put(key, {"a": 1}))
    now[0] = 9.9
    assert run(cache.get(key)) == {"a": 1}
    now[0] = 10.0
    assert run(cache.get(key)) is None


@pytest.mark.parametrize(
    "pseudonym, query, message",
    [
        (RAW_ID, {}, "must be named by pseudonym"),
        ("p_0123", {}, "must be named by pseudonym"),
        (PATIENT, {"forecast_days": "31"}, "forecast_days must lie between 1 and 30"),
        (PATIENT, {"forecast_days": "0"}, "forecast_days must lie between 1 and 30"),
        (PATIENT, {"forecast_days": "7.5"}, "forecast_days must be a whole number"),
        (PATIENT, {"lookback_days": "3"}, "lookback_days must lie between 28 and 365"),
        (PATIENT, {"include": "forecast,genome"}, "1 unknown part"),
        (PATIENT, {"include": ","}, "include takes"),
        (PATIENT, {"patient_name": "Jane Roe"}, "unknown query parameter"),
    ],
)
def test_bad_requests_are_refused_without_echoing_them(pseudonym, query, message):
    with pytest.raises(BadRequest) as refused:
        check_request(pseudonym, query, max_horizon=30)
    assert message in str(refused.value)
    for value in [pseudonym, *query.values()]:
        if value != PATIENT and len(value) > 2:  # not a bound the message names
            assert value not in str(refused.value)


def test_requests_default_to_the_design_documents_options():
    options = check_request(PATIENT, {"include": "medications,forecast"}, max_horizon=30)
    assert options == Options(14, 30, ("forecast", "medications"))


def _update(patient: str = PATIENT, **values) -> bytes:
    return json.dumps(
        {
            "patient": patient,
            "kind": "self_report",
            "day": "2026-01-05",
            "values": values or {"phq9": 14},
            "emitted_at": "2026-01-05T08:00:00Z",
        }
    ).encode()


def test_events_invalidate_push_fresh_insights_and_bad_ones_go_to_the_dead_letter_topic():
    servers = FakeServers()
    twin = make_twin(servers)
    cipher = FileCipher(KEY)

    async def scenario():
        bus = InProcessBus()
        seen: list[tuple[str, bytes]] = []

        async def spy(topic, key, value):
            seen.append((topic, value))

        bus.consume((topics.TWIN_INSIGHTS, topics.DEAD_LETTERS), spy)
        watchers = Watchers()
        handler = EventHandler(twin, watchers, bus, cipher)
        bus.consume((topics.SYMPTOM_UPDATES, topics.MODEL_PROMOTIONS), handler)
        queue = watchers.watch(PATIENT, OPTIONS)
        await twin.insights(PATIENT, OPTIONS)
        calls = sum(servers.calls.values())
        for bad in (
            b"not json",
            _update(RAW_ID),
            _update(phq9=99),
            b"[1]",
            json.dumps({"patient": PATIENT}).encode(),
        ):
            await bus.publish(topics.SYMPTOM_UPDATES, None, bad)
        await bus.publish(topics.SYMPTOM_UPDATES, PATIENT, _update())
        message = await asyncio.wait_for(queue.get(), 5)
        assert message["type"] == "insights" and message["reason"] == "symptom update (self_report)"
        assert message["insights"]["patient"] == PATIENT
        assert sum(servers.calls.values()) == calls + 3  # the cache was dropped: fresh calls
        await asyncio.sleep(0.05)
        await bus.stop()
        return seen

    seen = run(scenario())
    letters = [json.loads(v) for t, v in seen if t == topics.DEAD_LETTERS]
    assert len(letters) == 5
    reasons = [letter["reason"] for letter in letters]
    assert reasons[0] == "not JSON" and "patient" in reasons[1] and "phq9" in reasons[2]
    for letter in letters:  # the raw identifier travels only sealed
        assert RAW_ID not in json.dumps(letter)
    sealed = base64.b64decode(letters[1]["sealed_event"])
    opened = cipher.decrypt(
        sealed, f"dead-letter/{topics.SYMPTOM_UPDATES}/{letters[1]['received_at']}"
    )
    assert RAW_ID.encode() in opened
    published = [json.loads(v) for t, v in seen if t == topics.TWIN_INSIGHTS]
    assert [p["patient"] for p in published] == [PATIENT]


def test_a_promotion_clears_the_cache():
    servers = FakeServers()
    twin = make_twin(servers)

    async def scenario():
        await twin.insights(PATIENT, OPTIONS)
        handler = EventHandler(twin, Watchers(), InProcessBus(), FileCipher(KEY))
        event = {
            "model": "symptom-forecaster",
            "version": "4",
            "action": "approve",
            "at": "2026-01-05T08:00:00Z",
        }
        await handler(topics.MODEL_PROMOTIONS, None, json.dumps(event).encode())
        return await twin.insights(PATIENT, OPTIONS)

    _, cached = run(scenario())
    assert cached is False
