"""The FastAPI application: OpenAI's ``/v1/models``, ``/v1/chat/completions`` (streamed over
server-sent events or not) and ``/v1/embeddings``, answered by one :class:`Engine`.

The engine's work is blocking (llama.cpp, SQLite, the embedder), so it runs in threads and the
event loop stays free to accept, queue, stream and notice a client that has gone: a generation
whose client disconnects is stopped through its :class:`CancelToken`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from engine.api import Engine
from engine.errors import NotFound, TailorError
from engine.events import CancelToken, Loading, Outcome, Reply, TokenEvent
from engine.server.auth import authorised
from engine.server.queue import QueueFull, Queues
from engine.server.schemas import ChatCompletionRequest, EmbeddingRequest, error_body
from engine.types import ServedModel

log = logging.getLogger("tailor.server")

DEFAULT_QUEUE = 8
_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    429: "rate_limit_exceeded",
    500: "server_error",
}


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, param: str | None = None, code: str | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def response(self, headers: dict | None = None) -> JSONResponse:
        body = error_body(
            self.message, _STATUS_TYPES.get(self.status, "server_error"), self.param, self.code
        )
        return JSONResponse(body, status_code=self.status, headers=headers)


def create_app(
    engine: Engine, *, queue_size: int = DEFAULT_QUEUE, api_key: str | None = None
) -> FastAPI:
    """The server's application over ``engine``. With ``api_key`` every request must carry
    ``Authorization: Bearer <api_key>``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.loop = asyncio.get_running_loop()
        yield
        for generation in list(app.state.active):  # a shutdown stops what still runs
            generation.cancel.cancel()
        app.state.executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="Tailor", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.engine = engine
    app.state.queues = Queues(queue_size)
    app.state.api_key = api_key
    # One generation runs at a time; the rest are threads finishing a cancelled one, embeddings.
    app.state.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tailor-serve")
    app.state.loop = None  # the server's event loop, once it runs
    app.state.active = set()  # the generations running or waiting

    @app.middleware("http")
    async def _authorise(request: Request, call_next):
        key = request.app.state.api_key
        if key and not authorised(request.headers.get("authorization"), key):
            return ApiError(
                401,
                "A valid API key is required: send Authorization: Bearer <key>.",
                code="invalid_api_key",
            ).response()
        return await call_next(request)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError):
        return exc.response()

    @app.exception_handler(QueueFull)
    async def _queue_full(_request: Request, exc: QueueFull):
        return ApiError(429, str(exc), code="queue_full").response(
            {"Retry-After": str(exc.retry_after)}
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {}
        if first.get("type") == "json_invalid":
            return ApiError(
                400, "The request body is not valid JSON.", code="json_invalid"
            ).response()
        else:
            message = "; ".join(f"{_where(e) or 'body'}: {e.get('msg')}" for e in errors)
        return ApiError(
            400, message, param=_where(first) or None, code=first.get("type")
        ).response()

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException):
        return ApiError(exc.status_code, str(exc.detail)).response()

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception):
        log.exception("request failed")
        return ApiError(500, f"The server failed: {exc}").response()

    @app.get("/v1/models")
    async def list_models():
        served = await run_in_threadpool(engine.served_models)
        return {"object": "list", "data": [_model_card(m) for m in served]}

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str):
        return _model_card(await _served(engine, model_id))

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionRequest, request: Request):
        try:
            messages = [{"role": _role(m.role), "content": m.text()} for m in body.messages]
        except ValueError as exc:
            raise ApiError(400, str(exc), param="messages") from None
        if messages[-1]["role"] != "user":
            raise ApiError(400, "The last message must be the user's question.", param="messages")
        served = await _served(engine, body.model)
        generation = Generation(app, served, body, messages)
        await generation.start()  # waits its turn in the queue, or 429
        if body.stream:
            return StreamingResponse(
                generation.sse(),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        return await generation.whole(request)

    @app.post("/v1/embeddings")
    async def embeddings(body: EmbeddingRequest):
        texts = body.texts()
        if any(not isinstance(t, str) for t in texts):
            raise ApiError(400, "input must be a string or a list of strings.", param="input")
        loop = asyncio.get_running_loop()
        vectors = await loop.run_in_executor(app.state.executor, engine.embed, texts)
        data = []
        for i, v in enumerate(vectors):
            value = (
                base64.b64encode(np.asarray(v, dtype=np.float32).tobytes()).decode()
                if body.encoding_format == "base64"
                else v
            )
            data.append({"object": "embedding", "index": i, "embedding": value})
        tokens = sum(len(t.split()) for t in texts)
        return {
            "object": "list",
            "data": data,
            "model": body.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    return app


def _where(error: dict) -> str:
    return ".".join(str(p) for p in error.get("loc", ()) if p != "body")


def _role(role: str) -> str:
    return "system" if role == "developer" else role


async def _served(engine: Engine, model_id: str) -> ServedModel:
    try:
        return await run_in_threadpool(engine.served_model, model_id)
    except NotFound as exc:
        raise ApiError(404, str(exc), param="model", code="model_not_found") from None


def _model_card(m: ServedModel) -> dict:
    return {
        "id": m.id,
        "object": "model",
        "created": m.created,
        "owned_by": "tailor",
        "tailor": {
            "kind": m.kind,
            "assistant": m.assistant,
            "version": m.version,
            "level": m.level,
            "model": m.model,
        },
    }


def _finish_reason(reply: Reply) -> str:
    return "length" if reply.stats.stop_reason == "length" else "stop"


def _usage(reply: Reply) -> dict:
    s = reply.stats
    return {
        "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.completion_tokens,
        "total_tokens": s.prompt_tokens + s.completion_tokens,
    }


def _sources(reply: Reply) -> list[dict]:
    return [
        {k: (float(v) if isinstance(v, np.floating) else v) for k, v in s.items()}
        for s in reply.sources
    ]


class Generation:
    """One chat completion: its turn in the queue, the engine's operation running in a thread
    (its events handed to the event loop), and the answer as one JSON body or as SSE."""

    def __init__(
        self, app: FastAPI, served: ServedModel, body: ChatCompletionRequest, messages: list[dict]
    ):
        self.app = app
        self.served = served
        self.body = body
        self.messages = messages
        self.cancel = CancelToken()
        self.events: asyncio.Queue = asyncio.Queue()
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    async def start(self) -> None:
        queues: Queues = self.app.state.queues
        active: set = self.app.state.active
        active.add(self)
        try:
            ticket = await queues.enter(self.body.model)
        except BaseException:
            active.discard(self)
            raise
        loop = asyncio.get_running_loop()

        def done(_future) -> None:
            active.discard(self)
            queues.leave(ticket)

        try:
            future = loop.run_in_executor(self.app.state.executor, self._work, loop)
        except BaseException:
            done(None)
            raise
        future.add_done_callback(done)

    def _work(self, loop: asyncio.AbstractEventLoop) -> None:
        """In a thread: run the operation to its Outcome, handing each event to the loop. The
        turn is given back only when this returns, so the next generation never overlaps it."""
        b = self.body
        outcome: Outcome
        try:
            for event in self.app.state.engine.complete(
                self.messages,
                b.model,
                temperature=b.temperature,
                top_p=b.top_p,
                max_tokens=b.max_completion_tokens or b.max_tokens,
                stop=b.stop_list(),
                seed=b.seed,
                cancel=self.cancel,
            ):
                if isinstance(event, Outcome):
                    outcome = event
                    break
                loop.call_soon_threadsafe(self.events.put_nowait, event)
            else:
                outcome = Outcome(
                    "failed", error=RuntimeError("The reply ended without an outcome.")
                )
        except Exception as exc:  # raised before the operation started (a bad reference)
            outcome = Outcome("failed", error=exc)
        reply = outcome.result
        if isinstance(reply, Reply):
            log.info(
                "%s %s: %d prompt + %d completion tokens, %s",
                self.id,
                b.model,
                reply.stats.prompt_tokens,
                reply.stats.completion_tokens,
                reply.stats.stop_reason or outcome.status,
            )
        else:
            log.info("%s %s: %s", self.id, b.model, outcome.status)
        loop.call_soon_threadsafe(self.events.put_nowait, outcome)

    async def _events(self) -> AsyncIterator[Loading | TokenEvent | Outcome]:
        while True:
            event = await self.events.get()
            yield event
            if isinstance(event, Outcome):
                return

    def _error(self, error: BaseException | None) -> ApiError:
        if isinstance(error, NotFound):
            return ApiError(404, str(error), param="model", code="model_not_found")
        if isinstance(error, TailorError):
            return ApiError(400, str(error))
        log.error("generation failed", exc_info=error)
        return ApiError(500, f"The generation failed: {error}")

    async def whole(self, request: Request) -> JSONResponse:
        """The reply as one ``chat.completion``; a client that leaves stops the generation."""
        try:
            while True:
                try:
                    event = await asyncio.wait_for(self.events.get(), timeout=0.25)
                except TimeoutError:
                    if await request.is_disconnected():
                        self.cancel.cancel()
                        return JSONResponse({}, status_code=499)
                    continue
                if isinstance(event, Outcome):
                    break
        except BaseException:
            self.cancel.cancel()
            raise
        if event.status != "done" or not isinstance(event.result, Reply):
            raise self._error(event.error)
        reply = event.result
        message: dict = {"role": "assistant", "content": reply.text}
        if reply.raft is not None:
            message["content"] = reply.raft.answer
            message["reasoning_content"] = reply.raft.reasoning
        if reply.sources:
            message["tailor_sources"] = _sources(reply)
        return JSONResponse(
            {
                "id": self.id,
                "object": "chat.completion",
                "created": self.created,
                "model": self.body.model,
                "system_fingerprint": None,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": _finish_reason(reply),
                    }
                ],
                "usage": _usage(reply),
            }
        )

    def _chunk(
        self, delta: dict, finish_reason: str | None = None, usage: dict | None = None
    ) -> str:
        body: dict = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.body.model,
            "system_fingerprint": None,
            "choices": []
            if usage
            else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if usage:
            body["usage"] = usage
        return f"data: {json.dumps(body)}\n\n"

    async def sse(self) -> AsyncIterator[str]:
        """The reply as server-sent events, OpenAI's ``chat.completion.chunk`` s then
        ``[DONE]``. Starlette cancels this when the client disconnects, and that stops the
        generation."""
        finished = False
        field = "reasoning_content" if self.served.raft else "content"
        try:
            yield self._chunk({"role": "assistant", "content": ""})
            async for event in self._events():
                if isinstance(event, Loading):
                    yield f": loading {event.model}\n\n"  # a comment keeps the client waiting
                elif isinstance(event, TokenEvent):
                    if event.text:
                        yield self._chunk({field: event.text})
                elif isinstance(event, Outcome):
                    finished = True
                    if event.status != "done" or not isinstance(event.result, Reply):
                        err = self._error(event.error)
                        body = error_body(
                            err.message,
                            _STATUS_TYPES.get(err.status, "server_error"),
                            err.param,
                            err.code,
                        )
                        yield f"data: {json.dumps(body)}\n\n"
                        return
                    reply = event.result
                    last: dict = {}
                    if reply.raft is not None:
                        last["content"] = reply.raft.answer
                    elif self.served.raft:  # cut off before its answer: as when not streamed
                        last["content"] = reply.text
                    if reply.sources:
                        last["tailor_sources"] = _sources(reply)
                    yield self._chunk(last, _finish_reason(reply))
                    if self.body.stream_options and self.body.stream_options.include_usage:
                        yield self._chunk({}, usage=_usage(reply))
                    yield "data: [DONE]\n\n"
        finally:
            if not finished:
                self.cancel.cancel()
