# Image for the KFP components and the KServe predictor (one image, many entry points).
# Build: docker build -t novamind/digital-twin:0.1.0 .
# Components pick it up through NOVAMIND_COMPONENT_IMAGE (see components/image.py).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    GX_ANALYTICS_ENABLED=false

RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 git \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/novamind
# The CPU build of the pinned torch first, so that resolving the project does not pull CUDA.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

COPY pyproject.toml README.md ./
COPY novamind_core ./novamind_core
COPY components ./components
COPY pipelines ./pipelines
COPY serving ./serving
COPY feature_specs ./feature_specs
RUN pip install -e . && useradd --create-home --uid 10001 novamind
USER novamind

ENTRYPOINT ["novamind"]
CMD ["--help"]
