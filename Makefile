# The two commands of the quick start are `make run` and `make test`.
# Each creates or reuses .venv and installs the pinned dependencies when pyproject.toml
# changed since the last install; both are safe to repeat.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-16)
RAW ?= data/raw/demo
PATIENTS ?= 200
DAYS ?= 180
# one payload per demo patient: below the policy's 200, so the demo judges from 100 up
DRIFT_MIN_SAMPLES ?= 100
# the pharmacogenomics demo needs more treatment trials than the 200-patient cohort holds
# (about 4,900 trials here): a second cohort, ingested after the first one's monitoring
PGX_RAW ?= data/raw/pgx
PGX_PATIENTS ?= 10000
PGX_DAYS ?= 150
PGX_REPLAY ?= 300
# the private signing keys (token issuer, reviewers): never in .env, which pipelines read
SECRETS ?= .secrets

.PHONY: run test test-slow bench lint venv clean chromium

# approve MODEL's challenger as the demo reviewer (a short-lived reviewer token, the
# reviewers' signing key from $(SECRETS))
define approve
	NOVAMIND_TOKEN="$$(NOVAMIND_JWT_SIGNING_KEY_FILE=$(SECRETS)/token-signing.pem \
		$(BIN)/novamind token --role reviewer --subject demo-reviewer --ttl-minutes 10)" \
	NOVAMIND_APPROVAL_SIGNING_KEY_FILE=$(SECRETS)/approval-signing.pem \
	$(BIN)/novamind models approve $(1) --version challenger \
		--reviewer demo-reviewer --note "make run: demo approval"
endef

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps "$$(sed -n 's/^reference = \["\(.*\)"\]/\1/p' pyproject.toml)"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

## The main job on embedded defaults: synthesize a cohort, validate it, ingest it into
## the encrypted store, train/evaluate/register the symptom forecaster on the KFP local
## runner, show the reviewer's view of the new challenger, approve it (demo reviewer);
## run the biometric-correlation pipeline (told what the synthetic cohort planted),
## review and approve the correlator, print the cohort's lead-lag relations; CPIC dosing
## guidance for one genotype; replay every stored patient through a local KServe server,
## judge drift of those payloads against the training reference (Evidently); then a
## larger cohort for pharmacogenomics: train the medication-response GNN and its baselines,
## review and approve it, rank drugs for one stored patient, ask the digital twin about
## that patient (three model servers and the twin on loopback), replay and judge its
## drift; and verify the audit trail.
run: venv
	$(BIN)/novamind data keygen --env-file .env --secrets-dir $(SECRETS)
	$(BIN)/novamind data synth --out $(RAW) --patients $(PATIENTS) --days $(DAYS)
	$(BIN)/novamind data validate $(RAW)
	$(BIN)/novamind data ingest $(RAW)
	$(BIN)/novamind data summary
	$(BIN)/novamind pipeline run symptom-forecasting
	$(BIN)/novamind models list
	$(BIN)/novamind models review symptom-forecaster --version latest --html data/review.html
	$(call approve,symptom-forecaster)
	$(BIN)/novamind pipeline run biometric-correlation \
		--param expected_relations=@$(RAW)/ground_truth.json
	$(BIN)/novamind models review biometric-correlator --version latest \
		--html data/review-correlator.html
	$(call approve,biometric-correlator)
	$(BIN)/novamind correlate --limit 10 --out data/correlations.csv
	$(BIN)/novamind pgx recommend --genotype CYP2D6='*4/*10' --genotype CYP2C19='*1/*17'
	$(BIN)/novamind monitor replay
	$(BIN)/novamind monitor drift --min-samples $(DRIFT_MIN_SAMPLES) --exit-zero
	$(BIN)/novamind data synth --out $(PGX_RAW) --patients $(PGX_PATIENTS) --days $(PGX_DAYS) \
		--seed 11
	$(BIN)/novamind data ingest $(PGX_RAW)
	$(BIN)/novamind pipeline run pharmacogenomics \
		--param expected_effects=@$(PGX_RAW)/ground_truth.json
	$(BIN)/novamind models review medication-response --version latest \
		--html data/review-medication-response.html
	$(call approve,medication-response)
	$(BIN)/novamind pgx rank --condition MDD \
		--patient "$$($(BIN)/novamind data patients --having treatment_history --limit 1)"
	$(BIN)/novamind twin try --out data/twin-insights.json \
		--patient "$$($(BIN)/novamind data patients --having treatment_history --limit 1)"
	$(BIN)/novamind monitor replay --model medication-response --patients $(PGX_REPLAY)
	$(BIN)/novamind monitor drift --model medication-response \
		--min-samples $(DRIFT_MIN_SAMPLES) --exit-zero
	$(BIN)/novamind audit verify

lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports

## Lint, the import contracts, then every test not marked slow (the console's browser
## tests drive Debian's chromium, installed here with apt when it is missing).
test: lint chromium
	$(BIN)/python -m pytest -m "not slow" -q

chromium:
	@command -v chromium >/dev/null 2>&1 || apt-get install -y -q chromium >/dev/null 2>&1 || \
		echo "chromium could not be installed: the console's browser tests will be skipped"

## End-to-end and benchmark-sized tests.
test-slow: venv
	$(BIN)/python -m pytest -m slow -q

## Benchmarks; figures go into the README.
bench: venv
	@command -v wrk >/dev/null 2>&1 || apt-get install -y -q wrk >/dev/null 2>&1 || \
		echo "wrk is not installed: the serving benchmark measures with its aiohttp loop only"
	$(BIN)/python bench/synth_benchmark.py
	$(BIN)/python bench/pipeline_benchmark.py
	$(BIN)/python bench/quantization_benchmark.py
	$(BIN)/python bench/drift_benchmark.py
	$(BIN)/python bench/serving_benchmark.py --floor
	$(BIN)/python bench/forecast_ceiling.py
	$(BIN)/python bench/correlation_benchmark.py
	$(BIN)/python bench/correlation_pipeline_benchmark.py
	$(BIN)/python bench/pgx_benchmark.py
	@if [ -f data/twin-insights.json ]; then $(BIN)/python bench/twin_benchmark.py; \
	else echo "bench/twin_benchmark.py skipped: it serves the champions make run approves"; fi

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
