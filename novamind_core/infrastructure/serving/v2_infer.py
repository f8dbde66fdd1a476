"""The V2 (Open Inference Protocol) infer route, through KServe's dataplane.

KServe's own route lets FastAPI parse the body with the stdlib JSON parser into its
pydantic ``InferenceRequest``, then re-validates the model's answer as an
``InferenceResponse`` and serializes it with FastAPI's ``jsonable_encoder`` and the
stdlib JSON writer. For one patient that was about 160 µs of the event loop per request
(of 30 rows: 30 µs parsing, 127 µs answering), where V1 spends about 10.

This route does the same steps with the same KServe objects — readiness check,
``DataPlane.decode`` / ``infer`` / ``encode``, the predictor's pre- and postprocess — but
parses the body once with pydantic-core straight from bytes (20 µs) and writes the
answer with orjson (1 µs). A body that is not a valid inference request is a 400 naming
what is wrong, as every other bad input is. Requests with KServe's binary tensor
extension (an ``inference-header-content-length`` header) are decoded by KServe as before.
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

PATH = "/v2/models/{model_name}/infer"


def infer_route(dataplane) -> Route:
    """A Starlette route for ``POST /v2/models/{model_name}/infer`` served by ``dataplane``;
    put it before KServe's routes so that it answers that path."""

    async def infer(request: Request) -> Response:
        model_name = request.path_params["model_name"]
        if not await dataplane.model_ready(model_name, True):
            raise ModelNotReady(model_name)
        body = await request.body()
        headers = dict(request.headers)
        if INFERENCE_CONTENT_LENGTH_HEADER.lower() not in headers:
            body = parse(body)
        infer_request, _ = dataplane.decode(
            body, headers, protocol_version=PredictorProtocol.REST_V2.value, model_name=model_name
        )
        response, response_headers = await dataplane.infer(
            model_name=model_name, request=infer_request, headers=headers
        )
        response, encoded_headers = dataplane.encode(
            model_name=model_name, response=response, headers=headers, req_attributes={}
        )
        response_headers.update(encoded_headers)
        for name in ("content-length", "content-type"):
            response_headers.pop(name, None)
        if isinstance(response, bytes):  # binary tensor outputs: JSON header, then the data
            return Response(
                response, media_type="application/octet-stream", headers=response_headers
            )
        body = orjson.dumps(response, option=orjson.OPT_SERIALIZE_NUMPY)
        return Response(body, media_type="application/json", headers=response_headers)

    return Route(PATH, infer, methods=["POST"], name="v2_infer")


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
