"""A KServe ModelServer whose model does no work: the framework's own cost per request.

The serving benchmark starts it (``--floor``) and loads it exactly like ``novamind
serve``: same load generator, same V1 request bodies, one worker process. Its latency is
a floor under any predictor served by KServe's Python server on this machine.

    .venv/bin/python bench/kserve_floor_server.py PORT
"""

from __future__ import annotations

import sys

from kserve import Model, ModelServer


class NoWork(Model):
    """Answers every V1 request with the number of instances it received."""

    def __init__(self, name: str = "floor"):
        super().__init__(name)
        self.ready = True

    async def predict(self, payload, headers=None, response_headers=None):
        return {"predictions": [len(payload.get("instances", []))]}


if __name__ == "__main__":
    ModelServer(
        http_port=int(sys.argv[1]), enable_grpc=False, workers=1, enable_latency_logging=False
    ).start([NoWork()])
