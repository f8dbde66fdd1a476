"""The inference routes (V1 predict, V2 infer), through KServe's dataplane.

KServe's own V2 route lets FastAPI parse the body with the stdlib JSON parser into its
pydantic ``InferenceRequest``, then re-validates the model's answer as an
``InferenceResponse`` and serializes it with FastAPI's ``jsonable_encoder`` and the
stdlib JSON writer. For one patient that was about 160 µs of the event loop per request
(of 30 rows: 30 µs parsing, 127 µs answering), where V1 spends about 10.

These routes do the same steps with the same KServe objects — readiness check,
``DataPlane.decode`` / ``infer`` / ``encode``, the predictor's pre- and postprocess — but
parse the body once, with pydantic-core (V2) or orjson (V1) straight from bytes, and write
the answer with orjson. Whatever a client sends, a body that cannot be read — not JSON,
nested too deep, not a V2 request, binary tensor data that does not match its header —
is a 400 that says what is wrong without repeating what was sent.
"""

from __future__ import annotations

import orjson
from kserve.constants.constants import INFERENCE_CONTENT_LENGTH_HEADER, PredictorProtocol
from kserve.errors import InvalidInput, ModelNotReady
from kserve.protocol.rest.v2_datamodels import InferenceRequest
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

V1_PATH = "/v1/models/{model_name}:predict"
V2_PATH = "/v2/models/{model_name}/infer"


def predict_route(dataplane) -> Route:
    """``POST /v1/models/{model_name}:predict`` served by ``dataplane``; put it before
    KServe's routes so that it answers that path."""

    async def predict(request: Request) -> Response:
        model_name, body, headers = await _received(dataplane, request)
        return await _inferred(dataplane, model_name, parse_json(body), headers)

    return Route(V1_PATH, predict, methods=["POST"], name="v1_predict")


def infer_route(dataplane) -> Route:
    """``POST /v2/models/{model_name}/infer`` served by ``dataplane``; put it before
    KServe's routes so that it answers that path."""

    async def infer(request: Request) -> Response:
        model_name, body, headers = await _received(dataplane, request)
        binary = INFERENCE_CONTENT_LENGTH_HEADER.lower() in headers
        if not binary:
            body = parse(body)
        try:  # KServe decodes the tensors (with the binary extension: lengths, offsets)
            infer_request, _ = dataplane.decode(
                body,
                headers,
                protocol_version=PredictorProtocol.REST_V2.value,
                model_name=model_name,
            )
        except InvalidInput:
            raise
        except Exception:
            what = "the binary tensor data" if binary else "the tensor data"
            raise InvalidInput(f"{what} do not match their shapes and datatypes") from None
        return await _inferred(dataplane, model_name, infer_request, headers)

    return Route(V2_PATH, infer, methods=["POST"], name="v2_infer")


async def _received(dataplane, request: Request) -> tuple[str, bytes, dict]:
    """The model named in the path (ready, or a 503), the body and the headers."""
    model_name = request.path_params["model_name"]
    if not await dataplane.model_ready(model_name, True):
        raise ModelNotReady(model_name)
    return model_name, await request.body(), dict(request.headers)


async def _inferred(dataplane, model_name: str, infer_request, headers: dict) -> Response:
    """The predictor's answer (pre-, post-processing and all), written with orjson."""
    response, response_headers = await dataplane.infer(
        model_name=model_name, request=infer_request, headers=headers
    )
    response, encoded_headers = dataplane.encode(
        model_name=model_name, response=response, headers=headers, req_attributes={}
    )
    return _answer(response, response_headers | encoded_headers)


def _answer(response, headers: dict) -> Response:
    for name in ("content-length", "content-type"):
        headers.pop(name, None)
    if isinstance(response, bytes):  # binary tensor outputs: JSON header, then the data
        return Response(response, media_type="application/octet-stream", headers=headers)
    body = orjson.dumps(response, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, media_type="application/json", headers=headers)


def parse_json(body: bytes | str):
    """A JSON body (orjson: nesting deeper than 1,024 levels is refused), or a 400."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {_position(exc)}") from None


def _position(exc: orjson.JSONDecodeError) -> str:
    """Where the JSON breaks, and why, without the text that was sent."""
    reason = exc.msg.split(":", 1)[0] if exc.msg else "unreadable"
    return f"{reason} at line {exc.lineno}, column {exc.colno}"


def parse(body: bytes) -> InferenceRequest:
    """The body as a V2 inference request, or a 400 that names each problem."""
    try:
        return InferenceRequest.model_validate_json(body)
    except ValidationError as exc:
        problems = [_problem(error) for error in exc.errors(include_url=False)]
        raise InvalidInput("not a V2 inference request: " + "; ".join(problems[:5])) from None


def _problem(error: dict) -> str:
    """Where in the body (nothing: the body as a whole) and what is wrong there."""
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]
