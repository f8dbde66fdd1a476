"""The base KServe model of every family's served champion.

Everything that does not depend on the family lives here: loading the champion (and
swapping it when the alias moves, keeping the old one when a load fails), V1 and V2
request dispatch with the shared checks (JSON body, instance cap, pseudonyms, tensor
names, types, shapes and lengths), micro-batching into the family's batch prediction,
the payload log, one audit entry per request (group-committed), and Prometheus metrics.

A family's subclass writes what is its own: its input and output tensors
(``get_input_types`` / ``get_output_types``), how a request becomes the parts of a batch
(``parse_v1`` / ``parse_v2``, plus ``check``), the prediction of a batch of requests
(``predict_batch``), and its V1 answer (``v1_response``). V2 answers are written here
from the output tensors it declares.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from kserve import InferOutput, InferRequest, InferResponse, Model
from kserve.errors import InvalidInput, ModelNotReady

from novamind_core.infrastructure.serving import metrics
from novamind_core.infrastructure.serving.micro_batcher import MicroBatcher
from novamind_core.infrastructure.serving.request_checks import check_key
from novamind_core.infrastructure.serving.routes import parse_json

log = logging.getLogger(__name__)
NUMPY_TYPES = {"FP32": np.float32, "FP64": np.float64, "INT32": np.int32, "INT64": np.int64}


@dataclass(frozen=True)
class Stored:
    """A patient a request names by pseudonym only: the history comes from the store."""

    key: str
    where: str
    days: int | None = None  # the last days of history to read, when the request says


class FamilyModel(Model):
    """A family's champion behind KServe's V1 and V2 protocols."""

    max_instances = 256  # patients per request, V1 and V2 alike
    max_rows = 16_384  # daily rows per request, all its patients together
    # what a payload-log row holds besides the input tensors (features derived from the
    # request, e.g. a genotype's activity score), for the drift monitor to compare
    derived_features: tuple[str, ...] = ()

    def __init__(self, name: str, loader, history_source=None, payload_log=None, audit=None):
        """``loader(current_version) -> (servable, version)`` loads the champion;
        ``history_source(key, days)`` returns a patient's stored daily history;
        ``payload_log`` records traffic; ``audit`` records every prediction request (who,
        which pseudonyms, which version)."""
        super().__init__(name)
        self.loader = loader
        self.history_source = history_source
        self.payload_log = payload_log
        self.audit = audit
        self.servable = None
        self.version: str | None = None
        self._refusals: set[str] = set()
        self.batcher = MicroBatcher(
            self._predict_batch, on_batch=lambda n: metrics.BATCH_SIZE.labels(name).observe(n)
        )
        # the audit entries and payload-log rows of concurrent requests are written together,
        # one fsync each per batch (group commit): a request is answered only once both
        # are on disk, so a killed server loses no answered request's record
        self.committer = MicroBatcher(self._commit_batch, max_size=256)

    # -- what a family writes ------------------------------------------------------------
    @staticmethod
    def servable_from(python_model) -> Any:
        """What the server keeps of a loaded MLflow pyfunc model (made ready to serve)."""
        return python_model

    def parse_v1(self, instances: list[tuple[str, str, dict]]) -> list:
        """The parts of a V1 request from its checked instances (where, pseudonym, body);
        a ``Stored`` part for a patient whose history is to come from the store."""
        raise NotImplementedError

    def parse_v2(self, keys: list[str], columns: dict[str, Any]) -> list:
        """The parts of a V2 request from its checked input tensors (BYTES as lists of
        str, numbers as float arrays) and its patients in the order sent."""
        raise NotImplementedError

    def from_store(self, ref: Stored) -> Any:
        """The part of a patient named by pseudonym only (see ``stored_history``)."""
        raise NotImplementedError

    def combine(self, parts: list) -> list:
        """The parts as the batch wants them (e.g. one per patient)."""
        return parts

    def check(self, parts: list) -> None:
        """Checks of the parsed request that need the loaded champion (e.g. its context)."""

    def predict_batch(
        self, servable, version: str, requests: list[list]
    ) -> list[tuple[dict, list[dict]]]:
        """Per request of the batch (run by ``servable``, registry version ``version``):
        its answer as output columns (``patient_key`` among them) and its payload-log rows."""
        raise NotImplementedError

    def v1_response(self, version: str, answer: dict[str, np.ndarray]) -> dict:
        raise NotImplementedError

    def answered_patients(self, answer: dict[str, np.ndarray]) -> list[str]:
        """The pseudonyms an answer is about (for its audit entry)."""
        return sorted(set(answer["patient_key"].tolist()))

    # -- lifecycle --------------------------------------------------------------------------
    def load(self) -> bool:
        """Load (or reload) the champion; on failure keep serving what is loaded. A
        version refused for want of a valid approval is logged, counted in /metrics and
        audited (once per version and reason)."""
        from novamind_core.infrastructure.registry.approvals import UnapprovedVersion

        try:
            servable, version = self.loader(self.version)
        except UnapprovedVersion as refused:
            self._refused(refused)
            return self.ready
        except Exception as exc:
            log.error("could not load %s champion: %s", self.name, exc)
            return self.ready
        if servable is None:
            if version is None:
                log.warning("%s has no champion yet; not ready", self.name)
            return self.ready
        if version != self.version:
            self.servable, self.version = servable, version
            metrics.SERVED_VERSION.labels(self.name).set(float(version))
            log.info("%s serving registry version %s", self.name, version)
        self.ready = True
        return True

    # -- request handling ---------------------------------------------------------------------
    async def preprocess(self, payload, headers=None) -> dict:
        if not self.ready or self.servable is None:
            raise ModelNotReady(self.name)
        started = time.perf_counter()
        if isinstance(payload, bytes | str):  # a body handed over unparsed
            payload = parse_json(payload)
        if isinstance(payload, InferRequest):
            parts, protocol = self.parse_v2(*self._v2_columns(payload)), "v2"
        elif isinstance(payload, dict):
            parts, protocol = self.parse_v1(self._v1_instances(payload)), "v1"
        else:
            raise InvalidInput("the body must be a JSON object")
        if any(isinstance(part, Stored) for part in parts):  # store reads off the event loop
            parts = await asyncio.to_thread(self._from_store, parts)
        parts = self.combine(parts)
        self.check(parts)
        return {
            "parts": parts,
            "protocol": protocol,
            "started": started,
            "request_id": payload.id if isinstance(payload, InferRequest) else None,
        }

    async def predict(self, payload: dict, headers=None) -> dict:
        answer, logged, version = await self.batcher.submit(payload["parts"])
        return {**payload, "answer": answer, "payload_rows": logged, "version": version}

    async def postprocess(self, result: dict, headers=None, response_headers=None):
        answer: dict[str, np.ndarray] = result["answer"]
        if self.audit is not None or self.payload_log is not None:
            details = {
                "subject": (headers or {}).get("x-novamind-subject", "unknown"),
                "patients": self.answered_patients(answer),
                "protocol": result["protocol"],
            }
            event = ("predict", f"{self.name}/{result['version']}", details)
            await self.committer.submit((event, result["payload_rows"]))
        metrics.REQUEST_LATENCY.labels(self.name, result["protocol"]).observe(
            time.perf_counter() - result["started"]
        )
        if result["protocol"] == "v2":
            return self._v2_response(result["version"], answer, result["request_id"])
        return self.v1_response(result["version"], answer)

    def _refused(self, refused) -> None:
        metrics.LOAD_REFUSALS.labels(self.name).inc()
        if str(refused) in self._refusals:
            return
        self._refusals.add(str(refused))
        log.error("%s; still serving version %s", refused, self.version)
        if self.audit is not None:
            self.audit.record("load_refused", self.name, reason=str(refused))

    def flush_payloads(self) -> None:
        if self.payload_log is not None:
            self.payload_log.flush()

    def stored_history(self, key: str, where: str, days: int) -> pd.DataFrame:
        """A patient's daily history from the store (a 400 when there is none)."""
        if self.history_source is None:
            raise InvalidInput(f"{where}: send 'history' (this server has no patient store)")
        frame = self.history_source(key, days)
        if frame is None or frame.empty:
            raise InvalidInput(f"{where}: no stored history for patient {key}")
        return frame

    # -- the shared parts ---------------------------------------------------------------------
    def _predict_batch(self, requests: list[list]) -> list[tuple[dict, list[dict], str]]:
        servable, version = self.servable, self.version  # one consistent model for the batch
        return [(*answer, version) for answer in self.predict_batch(servable, version, requests)]

    def _from_store(self, parts: list) -> list:
        return [self.from_store(p) if isinstance(p, Stored) else p for p in parts]

    def _commit_batch(self, items: list[tuple[tuple, list[dict]]]) -> list[None]:
        """Payload rows into the journal first, then the audit entries (a request whose
        rows are journaled but not audited was never answered; the other way round, an
        answered request would lose its rows)."""
        if self.payload_log is not None:
            rows = [row for _, batch in items for row in batch]
            if self.payload_log.commit(rows):
                self.payload_log.flush()
        if self.audit is not None:
            self.audit.record_many([event for event, _ in items])
        return [None] * len(items)

    def _v1_instances(self, payload: dict) -> list[tuple[str, str, dict]]:
        instances = payload.get("instances")
        if not isinstance(instances, list):
            raise InvalidInput('expected {"instances": [...]}')
        if not instances:
            raise InvalidInput("empty batch: 'instances' holds no patient")
        if len(instances) > self.max_instances:
            raise InvalidInput(f"at most {self.max_instances} instances per request")
        rows = sum(
            len(i["history"])
            for i in instances
            if isinstance(i, dict) and isinstance(i.get("history"), list)
        )
        if rows > self.max_rows:
            raise InvalidInput(f"at most {self.max_rows} history rows per request")
        checked = []
        for i, instance in enumerate(instances):
            where = f"instances[{i}]"
            if not isinstance(instance, dict) or not isinstance(instance.get("patient_key"), str):
                raise InvalidInput(f"{where} needs a string 'patient_key'")
            checked.append((where, check_key(instance["patient_key"], where), instance))
        return checked

    def _v2_columns(self, request: InferRequest) -> tuple[list[str], dict[str, Any]]:
        """The input tensors by name, checked against ``get_input_types``: known names,
        declared types (FP64 accepted for FP32), one dimension, equal lengths, a
        ``patient_key`` tensor of pseudonyms; and the patients in the order sent."""
        declared = {t["name"]: t["datatype"] for t in self.get_input_types()}
        columns: dict[str, Any] = {}
        for i, tensor in enumerate(request.inputs):
            expected = declared.get(tensor.name)
            if expected is None:
                raise InvalidInput(
                    f"inputs[{i}] is not an input of this model; expected some of "
                    f"{sorted(declared)}"
                )
            accepted = ("FP32", "FP64") if expected == "FP32" else (expected,)
            if tensor.datatype not in accepted:
                raise InvalidInput(
                    f"input {tensor.name!r} must be {expected}, got {tensor.datatype}"
                )
            try:
                values = tensor.as_numpy().reshape(-1)
            except (ValueError, TypeError, OverflowError):  # ragged, or not its datatype
                raise InvalidInput(
                    f"input {tensor.name!r}: its data do not fit its shape and datatype"
                ) from None
            if list(tensor.shape) != [len(values)]:
                raise InvalidInput(f"input {tensor.name!r} must be one-dimensional")
            if expected == "BYTES":
                values = [v.decode() if isinstance(v, bytes) else v for v in values.tolist()]
            else:
                values = values.astype(float)
            columns[tensor.name] = values
        if "patient_key" not in columns:
            raise InvalidInput("missing input tensor 'patient_key'")
        if len(columns["patient_key"]) > self.max_rows:
            raise InvalidInput(f"at most {self.max_rows} rows per request")
        keys = list(dict.fromkeys(columns["patient_key"]))  # patients in the order sent
        if len(keys) > self.max_instances:
            raise InvalidInput(f"at most {self.max_instances} patients per request")
        for key in keys:
            check_key(key, "inputs.patient_key")
        lengths = {name: len(v) for name, v in columns.items()}
        if len(set(lengths.values())) != 1:
            raise InvalidInput(f"input tensors differ in length: {lengths}")
        if lengths["patient_key"] == 0:
            raise InvalidInput("empty batch: the input tensors hold no rows")
        return keys, columns

    def _v2_response(self, version, answer: dict[str, np.ndarray], request_id) -> InferResponse:
        """The declared output tensors, as numpy data that KServe converts once (to_rest)."""
        outputs = []
        for tensor in self.get_output_types():
            values = answer[tensor["name"]]
            kind = NUMPY_TYPES.get(tensor["datatype"])
            outputs.append(
                InferOutput(
                    name=tensor["name"],
                    shape=[len(values)],
                    datatype=tensor["datatype"],
                    data=values.astype(kind) if kind is not None else values,
                )
            )
        return InferResponse(
            model_name=self.name,
            model_version=version,
            response_id=request_id or "",
            infer_outputs=outputs,
        )
