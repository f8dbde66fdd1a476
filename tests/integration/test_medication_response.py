"""The pharmacogenomics family end to end: the pipeline on the KFP local runner against a
real MLflow store, then ``medication-response`` on a real `novamind serve` (127.0.0.1), by
pseudonym and by the patient's fields, V1 and V2, CPIC's actions on top of the model's
ranking, bad input refused, the audit trail and payload log it leaves, and `novamind pgx
rank` on the same registered version.

A 700-patient cohort holds too few held-out trials for the ``enough_held_out`` gate (200),
so the pipeline registers a version without a challenger alias; the test approves that
version and makes it the champion itself, as a reviewer would after looking at it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from novamind_core.cli import app
from novamind_core.infrastructure.raw_tables import write_tables
from novamind_core.infrastructure.settings import get_settings
from novamind_core.infrastructure.synthetic.cohort import CohortConfig, generate
from tests.integration.test_serving import (
    AUDIT_KEY,
    JWT_SECRET,
    KEY,
    Server,
    audit_trail_of,
    expect,
)
from tests.support.approvals import approval_keys, sign_approval

MODEL = "medication-response"
PREDICT = f"/v1/models/{MODEL}:predict"
INFER = f"/v2/models/{MODEL}/infer"
PSEUDONYM = re.compile(r"p_[0-9a-f]{24}")
EPOCHS = 2  # the networks learn little in 2 epochs; these tests are about the plumbing
RAW_ID = "MRN-000123"
SENT = "p_" + "1" * 24  # a pseudonym not in the store: its fields travel with the request
BLIND = "No genotype: predicted by the genotype-blind model. "
ITEM_KEYS = {
    "rank",
    "drug",
    "drug_class",
    "efficacy_score",
    "side_effect_risk",
    "benefit",
    "confidence",
    "percentile",
    "side_effects",
    "genetic_factors",
    "metabolizer_status",
    "cpic_action",
    "dose_adjustment_percent",
    "flagged",
    "recommendation",
    "genotype_used",
}
PATIENT = {"diagnosis": "MDD", "age_band": "35-44", "sex": "F"}
HISTORY = [
    {"drug": "sertraline", "dose_mg": 100, "response": False, "side_effects": ["nausea"]},
    {"drug": "escitalopram", "dose_mg": 10, "response": None, "side_effects": []},
]
POOR_BOTH = {"CYP2D6": "*4/*4", "CYP2C19": "*2/*2"}  # avoids, and dose reductions of 50 %
ULTRARAPID_2C19 = {"CYP2D6": "*1/*1", "CYP2C19": "*17/*17"}  # avoid citalopram, the TCAs


class NoAudit:
    def record(self, *args, **kwargs):
        pass


@contextlib.contextmanager
def settings_of(env: dict[str, str]):
    """The platform configured as the server is (store, keys, registry)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("NOVAMIND_"):
                mp.delenv(name)
        for name, value in env.items():
            if name.startswith(("NOVAMIND_", "MLFLOW_")):
                mp.setenv(name, value)
        get_settings.cache_clear()
        try:
            yield
        finally:
            get_settings.cache_clear()


def diplotypes_of(genotype: dict[str, str]) -> dict:
    from novamind_core.families.pharmacogenomics.guidance import parse_diplotype, parse_gene

    return {parse_gene(g): parse_diplotype(parse_gene(g), call) for g, call in genotype.items()}


def guidance_for(diplotypes: dict, drugs: list[str]) -> dict:
    """CPIC's guidance per drug, computed here by the library (not by the server)."""
    from novamind_core.families.pharmacogenomics.guidance import recommend

    return {g.drug: g for g in recommend(diplotypes, drugs=drugs)}


def fields_of(case) -> dict:
    """A stored patient's case as the fields a client would send."""
    return {
        "genotype": {gene.value: str(d) for gene, d in case.diplotypes.items()},
        "diagnosis": case.diagnosis,
        "age_band": case.age_band,
        "sex": case.sex,
        "history": [
            {
                "drug": t.drug,
                "dose_mg": t.dose_mg,
                "response": t.response,
                "side_effects": ["reported"] if t.side_effect else [],
                "discontinued_side_effects": t.discontinued,
            }
            for t in case.history
        ],
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Ingest a 700-patient cohort, run the pipeline, approve and crown its version."""
    from mlflow.tracking import MlflowClient

    from novamind_core.families.pharmacogenomics import cases as C
    from novamind_core.families.pharmacogenomics.cohort_data import stored_tables
    from novamind_core.families.pharmacogenomics.guidance import recommend
    from novamind_core.families.pharmacogenomics.knowledge_base import Action

    root = tmp_path_factory.mktemp("medication")
    public, pem = approval_keys(root / "reviewer")
    env = {
        "NOVAMIND_APPROVAL_PUBLIC_KEY": public,
        "NOVAMIND_DATA_DIR": str(root / "data"),
        "NOVAMIND_ENCRYPTION_KEY": base64.urlsafe_b64encode(KEY).decode(),
        "NOVAMIND_AUDIT_KEY": base64.urlsafe_b64encode(AUDIT_KEY).decode(),
        "NOVAMIND_JWT_SECRET": JWT_SECRET,
        "NOVAMIND_JWT_ALGORITHM": "HS256",
        "MLFLOW_TRACKING_URI": f"sqlite:///{(root / 'mlflow.db').as_posix()}",
    }
    cohort = generate(CohortConfig(patients=700, days=150, seed=5))
    write_tables(cohort.tables, root / "raw")
    (root / "truth.json").write_text(json.dumps(cohort.ground_truth))
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("NOVAMIND_"):
                mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        mp.chdir(root)
        get_settings.cache_clear()
        try:
            runner = CliRunner()
            result = runner.invoke(app, ["data", "ingest", str(root / "raw")])
            assert result.exit_code == 0, result.output
            refused = runner.invoke(app, ["pipeline", "run", "pharmacogenomics", "-p", "epochs=0"])
            truth = f"expected_effects=@{root / 'truth.json'}"
            pipeline = runner.invoke(
                app, ["pipeline", "run", "pharmacogenomics", "-p", f"epochs={EPOCHS}", "-p", truth]
            )
            assert pipeline.exit_code == 0, pipeline.output
            client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
            versions = client.search_model_versions(f"name='{MODEL}'")
            # what the pipeline left, before anyone approved anything
            registered = client.get_model_version(MODEL, versions[0].version)
            aliases = dict(client.get_registered_model(MODEL).aliases)
            sign_approval(pem, MODEL, registered.version)
            client.set_registered_model_alias(MODEL, "champion", registered.version)

            listed = runner.invoke(app, ["data", "patients", "--having", "treatment_history"])
            assert listed.exit_code == 0, listed.output
            keys = [k for k in listed.output.split() if PSEUDONYM.fullmatch(k)]
            from novamind_core.infrastructure import composition

            _, tables = stored_tables(composition.dataset_store(), "latest", NoAudit(), "test")
            cases = C.patient_cases(
                tables["patients"], tables["genotypes"], tables["treatment_history"]
            )

            def actions(key):
                return {g.action for g in recommend(cases[key].diplotypes, condition="MDD")}

            # a stored patient for whom CPIC says avoid to some MDD drugs and not to others
            avoid_key = next(k for k in keys if Action.AVOID in actions(k) and len(actions(k)) > 1)
            gad_key = next(k for k in keys if cases[k].diagnosis == "GAD")
            server_env = {k: v for k, v in os.environ.items() if not k.startswith("NOVAMIND_")}
            server_env |= env | {"PYTHONUNBUFFERED": "1"}
            yield {
                "root": root,
                "env": server_env,
                "version": registered,
                "aliases": aliases,
                "versions": versions,
                "pipeline": pipeline,
                "refused": refused,
                "client": client,
                "raw": cohort.tables["patients"],
                "keys": keys,
                "trial_keys": sorted(tables["treatment_history"]["patient_key"].unique()),
                "cases": cases,
                "avoid_key": avoid_key,
                "gad_key": gad_key,
            }
        finally:
            get_settings.cache_clear()


@pytest.fixture(scope="module")
def server(run, request):
    srv = Server(run["env"], run["root"], name="medication")
    srv.options += ["--model", MODEL]
    failed_before = request.session.testsfailed
    try:
        yield srv.start()
    finally:
        code = srv.stop()
        if request.session.testsfailed > failed_before:
            reporter = request.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"\n--- novamind serve (exit {code}), last log lines ---")
                reporter.write_line(srv.log_tail(60))


def predictions(server, instances: list[dict]) -> list[dict]:
    body = expect(server.request("POST", PREDICT, json={"instances": instances}), 200, server)
    assert len(body["predictions"]) == len(instances)
    return body["predictions"]


def check_ranking(recommendations: list[dict], diplotypes: dict, genotyped: bool = True) -> dict:
    """Every promised field; ranks 1..n; CPIC's action, dose and words per drug as the
    library gives them; every avoid flagged and below every other drug; within a tier,
    higher benefit first. Returns CPIC's guidance by drug."""
    from novamind_core.families.pharmacogenomics.knowledge_base import Action

    drugs = [r["drug"] for r in recommendations]
    assert len(drugs) == len(set(drugs)) > 0
    assert [r["rank"] for r in recommendations] == list(range(1, len(drugs) + 1))
    cpic = guidance_for(diplotypes, drugs)
    for r in recommendations:
        assert set(r) == ITEM_KEYS, r["drug"]
        g = cpic[r["drug"]]
        assert r["cpic_action"] == g.action.value, r["drug"]
        assert r["dose_adjustment_percent"] == g.dose_adjustment_percent, r["drug"]
        assert r["flagged"] == (g.action is Action.AVOID), r["drug"]
        assert r["genetic_factors"] == g.phenotypes, r["drug"]
        status = "; ".join(f"{gene}: {p}" for gene, p in g.phenotypes.items())
        assert r["metabolizer_status"] == (status or "no metabolizing gene genotyped for this drug")
        assert r["recommendation"] == ("" if genotyped else BLIND) + g.recommendation
        assert r["genotype_used"] is genotyped
        assert r["drug_class"]
        assert 0.0 <= r["efficacy_score"] <= 1.0 and 0.0 <= r["side_effect_risk"] <= 1.0
        assert r["benefit"] == pytest.approx(
            r["efficacy_score"] - 0.5 * r["side_effect_risk"], abs=2e-4
        )
        assert 0.0 <= r["confidence"] <= 1.0
        assert r["percentile"] is None or 0.0 <= r["percentile"] <= 100.0
        for effect in r["side_effects"]:
            assert set(effect) == {"effect", "share"} and 0 < effect["share"] <= 1
    flags = [r["flagged"] for r in recommendations]
    assert flags == sorted(flags), "an avoid is ranked above a drug CPIC does not avoid"
    assert not flags[0] or all(flags), "an avoid is ranked first"
    for tier in (False, True):
        benefits = [r["benefit"] for r in recommendations if r["flagged"] is tier]
        assert benefits == sorted(benefits, reverse=True)
    return cpic


# -- the pipeline and the registered version ---------------------------------------------------


def test_too_few_held_out_trials_register_a_version_but_no_challenger(run):
    version = run["version"]
    assert len(run["versions"]) == 1
    tags = version.tags
    assert tags["gate.enough_held_out"] == "false"
    assert tags["gates_passed"] == "false"
    for gate in ("beats_genotype_blind", "calibrated"):
        assert tags[f"gate.{gate}"] in ("true", "false"), gate
    assert tags["drugs"] == "21"
    assert "gnn.side_effect.roc_auc" in json.loads(tags["metrics"])
    # no alias moved: neither challenger nor champion until a reviewer acts
    assert run["aliases"] == {} and version.aliases == []
    out = run["pipeline"].output
    assert re.search(r"gates: failed: [^\n]*enough_held_out", out), out
    assert "alias: none (a gate failed)" in out

    client, folder = run["client"], run["root"] / "artifacts"
    path = client.download_artifacts(version.run_id, "evaluation/evaluation.json", str(folder))
    saved = json.loads(Path(path).read_text())
    evaluation = saved["evaluation"]
    assert saved["gates"]["enough_held_out"] is False
    assert 0 < evaluation["held_out_trials"] < 200
    assert set(evaluation["models"]) == {"gnn", "genotype_blind", "xgboost"}
    # the planted effects of ground_truth.json reached the evaluation
    assert set(evaluation["effect_error"]) == {"gnn", "genotype_blind", "xgboost"}
    assert all("response_planted" in row for row in evaluation["phenotype_effects"])
    assert evaluation["training"]["gnn"]["epochs"] <= EPOCHS
    # nothing logged with the version names a patient
    run_data = client.get_run(version.run_id).data
    logged = [json.dumps([run_data.params, run_data.tags, tags]), Path(path).read_text()]
    names = {a.path for a in client.list_artifacts(version.run_id)}
    if "evaluation.json" in names:
        logged.append(
            Path(
                client.download_artifacts(version.run_id, "evaluation.json", str(folder))
            ).read_text()
        )
    for text in logged:
        assert not PSEUDONYM.search(text)
        assert not any(raw_id in text for raw_id in run["raw"]["patient_id"])


def test_bad_settings_stop_the_run_before_any_step_and_register_nothing(run):
    assert run["refused"].exit_code != 0
    assert "epochs must be within 1–500, got 0" in run["refused"].output
    assert "Traceback" not in run["refused"].output
    assert len(run["versions"]) == 1


def test_patients_command_lists_the_pseudonyms_with_a_treatment_history(run):
    assert run["keys"] == run["trial_keys"]
    assert all(PSEUDONYM.fullmatch(k) for k in run["keys"])


LOAD = """
import sys
import mlflow.pyfunc
from novamind_core.families.pharmacogenomics.pyfunc import input_example
model = mlflow.pyfunc.load_model(sys.argv[1])
print("RESULT " + model.predict(input_example()).to_json(orient="records"))
"""


def test_the_registered_version_loads_and_predicts_in_a_fresh_process(run, server):
    from novamind_core.families.pharmacogenomics.pyfunc import OUTPUT_COLUMNS, input_example

    # only the registry's address: no store, no key — the version carries all it needs
    env = {k: v for k, v in run["env"].items() if not k.startswith("NOVAMIND_")}
    uri = f"models:/{MODEL}/{run['version'].version}"
    done = subprocess.run(
        [sys.executable, "-c", LOAD, uri],
        env=env,
        cwd=run["root"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    rows = json.loads(line.removeprefix("RESULT "))
    example = input_example()
    assert len(rows) == len(example) == 3
    assert all(list(row) == list(OUTPUT_COLUMNS) for row in rows)
    assert [r["drug"] for r in rows] == example["drug"].tolist()
    assert [r["patient_key"] for r in rows] == example["patient_key"].tolist()
    for row in rows:
        assert 0.0 <= row["response_probability"] <= 1.0
        assert 0.0 <= row["side_effect_probability"] <= 1.0
    assert [r["genotype_used"] for r in rows] == [True, True, False]

    # the served champion (the same version) gives the same probabilities
    history = json.loads(example["history"].iloc[0])
    genotyped = {
        "patient_key": SENT,
        **PATIENT,
        "genotype": {"CYP2D6": "*1/*4", "CYP2C19": "*2/*2"},
        "history": history,
        "candidates": ["escitalopram", "venlafaxine"],
    }
    blind = {"patient_key": SENT, **PATIENT, "history": history, "candidates": ["bupropion"]}
    served = {}
    for answer in predictions(server, [genotyped, blind]):
        served |= {(answer["genotype_used"], r["drug"]): r for r in answer["recommendations"]}
    for row in rows:
        r = served[(row["genotype_used"], row["drug"])]
        assert r["efficacy_score"] == pytest.approx(row["response_probability"], abs=2e-4)
        assert r["side_effect_risk"] == pytest.approx(row["side_effect_probability"], abs=2e-4)


# -- V1 ---------------------------------------------------------------------------------------


def test_v1_by_pseudonym_ranks_each_stored_patients_candidates_for_mdd(run, server):
    from novamind_core.families.pharmacogenomics.knowledge_base import load_knowledge_base

    mdd = set(load_knowledge_base().indications["MDD"])
    keys = [run["avoid_key"], *[k for k in run["keys"][:3] if k != run["avoid_key"]]]
    answers = predictions(server, [{"patient_key": k, "condition": "MDD"} for k in keys])
    for key, answer in zip(keys, answers, strict=True):
        assert answer["patient_key"] == key
        assert answer["model_version"] == str(run["version"].version)
        assert answer["genotype_used"] is True
        ranked = answer["recommendations"]
        assert {r["drug"] for r in ranked} == mdd
        check_ranking(ranked, run["cases"][key].diplotypes)
    flagged = [r for r in answers[0]["recommendations"] if r["flagged"]]
    assert flagged and not answers[0]["recommendations"][0]["flagged"]


def test_v1_without_a_condition_ranks_the_drugs_for_the_stored_diagnosis(run, server):
    from novamind_core.families.pharmacogenomics.knowledge_base import load_knowledge_base

    key = run["gad_key"]
    (answer,) = predictions(server, [{"patient_key": key}])
    ranked = answer["recommendations"]
    assert {r["drug"] for r in ranked} == set(load_knowledge_base().indications["GAD"])
    check_ranking(ranked, run["cases"][key].diplotypes)


def test_v1_by_pseudonym_is_the_same_as_sending_that_patients_fields(run, server):
    key = run["avoid_key"]
    case = run["cases"][key]
    assert case.history  # the stored history counts, not only the genotype
    stored, sent = predictions(
        server,
        [
            {"patient_key": key, "condition": "MDD"},
            {"patient_key": SENT, **fields_of(case), "condition": "MDD"},
        ],
    )
    columns = ("drug", "efficacy_score", "side_effect_risk", "benefit", "percentile")
    columns += ("cpic_action", "flagged", "dose_adjustment_percent", "recommendation")
    assert [[r[c] for c in columns] for r in stored["recommendations"]] == [
        [r[c] for c in columns] for r in sent["recommendations"]
    ]
    # and the history is read: without it the network answers differently
    (bare,) = predictions(
        server, [{"patient_key": SENT, **fields_of(case), "history": [], "condition": "MDD"}]
    )
    efficacy = {r["drug"]: r["efficacy_score"] for r in sent["recommendations"]}
    assert {r["drug"]: r["efficacy_score"] for r in bare["recommendations"]} != efficacy


@pytest.mark.parametrize("genotype", [POOR_BOTH, ULTRARAPID_2C19], ids=["PM-PM", "2C19-UM"])
def test_cpic_avoid_is_never_first_always_flagged_and_below_every_other_drug(server, genotype):
    from novamind_core.families.pharmacogenomics.knowledge_base import Action

    diplotypes = diplotypes_of(genotype)
    instance = {"patient_key": SENT, **PATIENT, "genotype": genotype, "history": HISTORY}
    (answer,) = predictions(server, [instance | {"condition": "MDD"}])
    assert answer["genotype_used"] is True
    ranked = answer["recommendations"]
    cpic = check_ranking(ranked, diplotypes)
    avoided = [d for d, g in cpic.items() if g.action is Action.AVOID]
    assert avoided and len(avoided) < len(ranked)
    assert {"citalopram", "escitalopram", "amitriptyline", "imipramine"} <= set(avoided)
    assert not ranked[0]["flagged"]
    if genotype == POOR_BOTH:  # CPIC's dose reductions are carried through
        by_drug = {r["drug"]: r for r in ranked}
        assert by_drug["nortriptyline"]["dose_adjustment_percent"] == -50
        assert by_drug["sertraline"]["cpic_action"] == "reduce"
        assert by_drug["sertraline"]["dose_adjustment_percent"] == -50
    # an avoid the network scores higher than a drug CPIC does not avoid still comes last
    benefit = {r["drug"]: r["benefit"] for r in ranked}
    inverted = [
        (a, b) for a in avoided for b in benefit if b not in avoided and benefit[a] > benefit[b]
    ]
    for a, b in inverted[:1]:
        (pair,) = predictions(server, [instance | {"candidates": [a, b]}])
        assert [(r["drug"], r["flagged"]) for r in pair["recommendations"]] == [
            (b, False),
            (a, True),
        ]
        assert pair["recommendations"][1]["benefit"] > pair["recommendations"][0]["benefit"]


@pytest.mark.parametrize(
    "genotype",
    [None, {}, {"CYP2D6": None, "CYP2C19": ""}],
    ids=["absent", "empty", "no-calls"],
)
def test_without_a_genotype_the_genotype_blind_model_answers_and_says_so(server, genotype):
    instance = {"patient_key": SENT, **PATIENT, "history": HISTORY, "condition": "MDD"}
    if genotype is not None:
        instance["genotype"] = genotype
    (answer,) = predictions(server, [instance])
    assert answer["genotype_used"] is False
    ranked = answer["recommendations"]
    check_ranking(ranked, {}, genotyped=False)
    for r in ranked:
        assert r["recommendation"].startswith(BLIND)
        assert r["cpic_action"] in ("no_genotype", "no_guidance")  # never "standard"
        assert not r["flagged"] and r["dose_adjustment_percent"] is None
    # the genotype-aware network answers the same patient with a genotype
    (typed,) = predictions(server, [instance | {"genotype": POOR_BOTH}])
    assert typed["genotype_used"] is True
    assert not any(r["recommendation"].startswith(BLIND) for r in typed["recommendations"])


# -- V2 ---------------------------------------------------------------------------------------


def _tensor(name: str, data: list) -> dict:
    return {"name": name, "datatype": "BYTES", "shape": [len(data)], "data": data}


def _v2_rows(rows: list[dict]) -> dict:
    """V2 input tensors of V1-style instances (one row per patient)."""
    columns = {
        "patient_key": [r["patient_key"] for r in rows],
        "diagnosis": [r.get("diagnosis", "") for r in rows],
        "age_band": [r.get("age_band", "") for r in rows],
        "sex": [r.get("sex", "") for r in rows],
        "cyp2d6": [r.get("genotype", {}).get("CYP2D6", "") for r in rows],
        "cyp2c19": [r.get("genotype", {}).get("CYP2C19", "") for r in rows],
        "history": [json.dumps(r["history"]) if "history" in r else "" for r in rows],
        "condition": [r.get("condition", "") for r in rows],
    }
    if any("candidates" in r for r in rows):
        # an empty cell: that patient's default candidates
        columns["candidates"] = [";".join(r.get("candidates", [])) for r in rows]
    return {"inputs": [_tensor(name, data) for name, data in columns.items()]}


def _v2_by_patient(server, rows: list[dict]) -> dict[str, list[dict]]:
    from novamind_core.families.pharmacogenomics.serving import OUTPUTS

    out = expect(server.request("POST", INFER, json=_v2_rows(rows)), 200, server)
    assert [o["name"] for o in out["outputs"]] == list(OUTPUTS)
    assert {o["name"]: o["datatype"] for o in out["outputs"]} == OUTPUTS
    n = len(out["outputs"][0]["data"])
    assert all(o["shape"] == [n] and len(o["data"]) == n for o in out["outputs"])
    tensors = {o["name"]: o["data"] for o in out["outputs"]}
    by_patient: dict[str, list[dict]] = {}
    for i, key in enumerate(tensors["patient_key"]):
        by_patient.setdefault(key, []).append({name: tensors[name][i] for name in OUTPUTS})
    return by_patient


def test_v2_gives_the_same_ranking_as_v1(run, server):
    stored = {"patient_key": run["avoid_key"], "condition": "MDD"}
    sent = {
        "patient_key": SENT,
        **PATIENT,
        "genotype": POOR_BOTH,
        "history": HISTORY,
        "condition": "MDD",
    }
    v1 = {a["patient_key"]: a for a in predictions(server, [stored, sent])}
    v2 = _v2_by_patient(server, [stored, sent])
    assert list(v2) == [run["avoid_key"], SENT]
    compared = ("rank", "drug", "drug_class", "efficacy_score", "side_effect_risk", "benefit")
    compared += ("percentile", "cpic_action", "flagged", "metabolizer_status", "recommendation")
    for key, rows in v2.items():
        ranked = v1[key]["recommendations"]
        assert [[r[c] for c in compared] for r in rows] == [
            [r[c] for c in compared] for r in ranked
        ]
        assert [r["dose_adjustment_percent"] for r in rows] == [
            r["dose_adjustment_percent"] for r in ranked
        ]
        assert all(r["genotype_used"] is True for r in rows)

    # candidates as one ';'-joined text: CPIC's avoid still ranked last
    chosen = sent | {"candidates": ["citalopram", "sertraline", "bupropion"]}
    (rows,) = _v2_by_patient(server, [chosen]).values()
    (answer,) = predictions(server, [chosen])
    assert [(r["rank"], r["drug"]) for r in rows] == [
        (r["rank"], r["drug"]) for r in answer["recommendations"]
    ]
    assert rows[-1]["drug"] == "citalopram" and rows[-1]["flagged"] is True
    assert {r["drug"] for r in rows} == {"citalopram", "sertraline", "bupropion"}


def test_v2_an_empty_candidates_cell_means_the_defaults(run, server):
    chosen = _sent(candidates=["sertraline", "citalopram"], condition="MDD")
    default = {"patient_key": run["avoid_key"], "condition": "GAD"}
    v2 = _v2_by_patient(server, [chosen, default])
    assert {r["drug"] for r in v2[SENT]} == {"sertraline", "citalopram"}
    (answer,) = predictions(server, [default])
    assert [r["drug"] for r in v2[run["avoid_key"]]] == [
        r["drug"] for r in answer["recommendations"]
    ]


def test_v2_without_a_genotype_says_the_genotype_blind_model_answered(server):
    (rows,) = _v2_by_patient(
        server, [{"patient_key": SENT, **PATIENT, "history": HISTORY, "condition": "GAD"}]
    ).values()
    assert rows and all(r["genotype_used"] is False for r in rows)
    assert all(r["recommendation"].startswith(BLIND) for r in rows)


# -- bad input --------------------------------------------------------------------------------


def _sent(**changes) -> dict:
    return {"patient_key": SENT, **PATIENT, "genotype": POOR_BOTH, "history": HISTORY} | changes


@pytest.mark.parametrize(
    ("instance", "message"),
    [
        (_sent(candidates=["sertraline", "aspirin"]), "unknown drug 'aspirin'; the catalog has"),
        (_sent(candidates=[]), "the candidate list is empty"),
        (_sent(genotype={"CYP2B6": "*1/*1"}), "unknown gene 'CYP2B6'"),
        (_sent(genotype={"CYP2D6": "4/4"}), "malformed CYP2D6 star allele '4'"),
        (_sent(diagnosis="FLU"), "instances[0].diagnosis must be one of MDD"),
        (_sent(condition="flu"), "unknown condition 'flu'"),
        (
            _sent(history=[{"drug": "aspirin", "dose_mg": 100, "response": True}]),
            "instances[0].history[0].drug: unknown drug 'aspirin'",
        ),
        (
            _sent(history=[{"drug": "sertraline", "dose_mg": 5000, "response": True}]),
            "instances[0].history[0].dose_mg must be a number of mg/day in (0, 1000]",
        ),
        (
            _sent(history=[{"drug": "sertraline", "dose_mg": 50, "response": "yes"}]),
            "history[0].response must be true, false or null",
        ),
        ({"patient_key": SENT, "diagnosis": "MDD"}, "needs age_band, sex"),
        ({"patient_key": "p_" + "f" * 24}, "no stored patient p_" + "f" * 24),
        ({"patient_key": RAW_ID}, "patient_key must be a pseudonym"),
        (_sent(patient_key=RAW_ID), "patient_key must be a pseudonym"),
    ],
    ids=[
        "unknown-candidate",
        "no-candidates",
        "unknown-gene",
        "malformed-allele",
        "unknown-diagnosis",
        "unknown-condition",
        "history-unknown-drug",
        "history-dose",
        "history-response",
        "missing-fields",
        "unknown-pseudonym",
        "raw-identifier",
        "raw-identifier-with-fields",
    ],
)
def test_bad_v1_requests_are_refused_with_a_clear_message(run, server, instance, message):
    response = server.request("POST", PREDICT, json={"instances": [instance]})
    assert response.status_code == 400, response.text
    assert message in response.json()["error"], response.text
    assert RAW_ID not in response.text
    assert not any(raw_id in response.text for raw_id in run["raw"]["patient_id"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {
                "inputs": [
                    _tensor("patient_key", [SENT]),
                    _tensor("diagnosis", ["MDD"]),
                    _tensor("age_band", ["35-44"]),
                    _tensor("sex", ["F"]),
                    _tensor("history", ["[{"]),
                ]
            },
            "inputs[0].history must be a JSON list of trials",
        ),
        (
            {"inputs": [_tensor("patient_key", [SENT]), _tensor("cyp2b6", ["*1/*1"])]},
            "is not an input of this model",
        ),
        ({"inputs": [_tensor("patient_key", [SENT, SENT])]}, "one row per patient"),
        (
            _v2_rows([_sent(candidates=["aspirin"])]),
            "inputs[0]: unknown drug 'aspirin'",
        ),
        (_v2_rows([_sent(candidates=[";"])]), "inputs[0]: the candidate list is empty"),
        (_v2_rows([_sent(genotype={"CYP2D6": "4/4"})]), "malformed CYP2D6 star allele '4'"),
        (
            {"inputs": [_tensor("patient_key", ["p_" + "f" * 24])]},
            "no stored patient p_" + "f" * 24,
        ),
        ({"inputs": [_tensor("patient_key", [RAW_ID])]}, "patient_key must be a pseudonym"),
    ],
    ids=[
        "history-not-json",
        "unknown-tensor",
        "duplicate-rows",
        "unknown-drug",
        "no-candidates",
        "malformed-allele",
        "unknown-pseudonym",
        "raw-identifier",
    ],
)
def test_bad_v2_requests_are_refused_with_a_clear_message(server, body, message):
    response = server.request("POST", INFER, json=body)
    assert response.status_code == 400, response.text
    assert message in response.text
    assert RAW_ID not in response.text


# -- the CLI on the same version ---------------------------------------------------------------


def test_pgx_rank_ranks_a_stored_patient_as_the_server_does(run, server):
    key = run["avoid_key"]
    version = str(run["version"].version)
    with settings_of(run["env"]):
        runner = CliRunner()
        shown = runner.invoke(
            app, ["pgx", "rank", "--patient", key, "--version", version, "--condition", "MDD"]
        )
        result = runner.invoke(
            app,
            ["pgx", "rank", "--patient", key, "--version", version, "--condition", "MDD", "--json"],
        )
        champion = runner.invoke(
            app, ["pgx", "rank", "--patient", key, "--drug", "citalopram", "--json"]
        )
        challenger = runner.invoke(
            app, ["pgx", "rank", "--patient", key, "--version", "challenger", "--json"]
        )
        raw = runner.invoke(app, ["pgx", "rank", "--patient", RAW_ID, "--version", version])
        missing = runner.invoke(app, ["pgx", "rank", "--patient", "p_" + "f" * 24])
    assert result.exit_code == 0, result.output
    ranked = json.loads(result.output)
    check_ranking(ranked, run["cases"][key].diplotypes)
    assert any(r["flagged"] for r in ranked) and not ranked[0]["flagged"]
    (served,) = predictions(server, [{"patient_key": key, "condition": "MDD"}])
    compared = ("drug", "efficacy_score", "side_effect_risk", "cpic_action", "flagged")
    assert [[r[c] for c in compared] for r in ranked] == [
        [r[c] for c in compared] for r in served["recommendations"]
    ]
    # the terminal view: the version, the patient, every avoid flagged
    assert shown.exit_code == 0, shown.output
    assert f"medication-response v{version}" in shown.output and key in shown.output
    assert shown.output.count("⚠ AVOID") == sum(r["flagged"] for r in ranked)
    # without --version: the approved champion, the same version
    assert champion.exit_code == 0, champion.output
    (only,) = json.loads(champion.output)
    by_drug = {r["drug"]: r for r in ranked}
    assert only["drug"] == "citalopram" and only["rank"] == 1
    assert only["efficacy_score"] == by_drug["citalopram"]["efficacy_score"]
    assert only["cpic_action"] == by_drug["citalopram"]["cpic_action"]
    # the pipeline set no challenger alias
    assert challenger.exit_code != 0
    assert "no medication-response version or alias 'challenger'" in challenger.output
    # a raw identifier is refused, not echoed
    assert raw.exit_code != 0
    assert "never a raw identifier" in raw.output
    assert RAW_ID not in raw.output and "Traceback" not in raw.output
    assert missing.exit_code != 0 and "no stored patient" in missing.output


# -- what the server leaves behind (stops the server: keep last) --------------------------------


def test_every_answer_is_audited_and_logged_by_pseudonym_only(run, server):
    from novamind_core.domain.drift import PREDICTION
    from novamind_core.infrastructure.monitoring.payload_log import PayloadLog

    seen = {run["avoid_key"], run["gad_key"], *run["keys"][:3]}
    key = next(k for k in run["keys"][5:] if k not in seen)
    marked = "p_" + "c" * 24  # a request whose payload-log row the test can recognise
    (stored,) = predictions(server, [{"patient_key": key}])
    sent = {
        "patient_key": marked,
        **PATIENT,
        "genotype": POOR_BOTH,
        "history": HISTORY,
        "candidates": ["sertraline", "bupropion", "nortriptyline"],
    }
    (answer,) = predictions(server, [sent])
    refused = server.request("POST", PREDICT, json={"instances": [{"patient_key": RAW_ID}]})
    assert refused.status_code == 400
    code = server.stop()
    assert code == 0, f"exit {code} (not a graceful SIGTERM):\n{server.log_tail()}"

    version = str(run["version"].version)
    trail = audit_trail_of(run["env"])
    assert trail.verify() == []  # server, CLI and tests wrote one intact chain
    log = (run["root"] / "data" / "audit").glob("**/*.jsonl")
    text = "".join(path.read_text() for path in log)
    entries = [json.loads(line) for line in text.splitlines()]
    predicted = [
        e for e in entries if e["action"] == "predict" and e.get("resource") == f"{MODEL}/{version}"
    ]
    assert any(e["details"]["patients"] == [key] for e in predicted)
    assert any(e["details"]["patients"] == [marked] for e in predicted)
    assert any(e["details"].get("protocol") == "v2" for e in predicted)
    reads = [
        e
        for e in entries
        if e["action"] == "read" and e["details"].get("purpose") == "serve medication-response"
    ]
    assert any(e["details"]["patient"] == key for e in reads)
    assert RAW_ID not in text and RAW_ID not in server.log()
    assert not any(raw_id in text for raw_id in run["raw"]["patient_id"])

    payloads = PayloadLog(run["root"] / "data", MODEL, KEY).read_all()
    assert set(payloads.columns) == {
        "logged_at",
        "model_version",
        "patient_key",
        "cyp2d6_activity_score",
        "prior_trials",
        "candidates",
        "genotype_used",
        PREDICTION,
    }  # no genotype text, no history
    assert payloads["patient_key"].map(lambda k: bool(PSEUDONYM.fullmatch(k))).all()
    assert (payloads["model_version"] == version).all()
    assert {key, marked, SENT, run["avoid_key"]} <= set(payloads["patient_key"])
    (row,) = payloads[payloads["patient_key"] == marked].to_dict("records")
    assert row["cyp2d6_activity_score"] == 0.0  # *4/*4
    assert row["prior_trials"] == len(HISTORY) and row["candidates"] == 3
    assert row["genotype_used"]
    top = max(r["efficacy_score"] for r in answer["recommendations"])
    assert row[PREDICTION] == pytest.approx(top, abs=1e-4)
    (row,) = payloads[payloads["patient_key"] == key].to_dict("records")
    assert row["candidates"] == len(stored["recommendations"])
    for f in (run["root"] / "data" / "payloads" / MODEL).iterdir():
        blob = f.read_bytes()
        assert key.encode() not in blob and marked.encode() not in blob
