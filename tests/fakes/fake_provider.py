"""A fake LLM provider: OpenAI- and Anthropic-compatible, for tests and the demo only.

The one fake the project allows (no real provider is reachable here). Standard library only, so
it runs on a bare Debian host as `python3 fake_provider.py`. Every response has a unique id (LiteLLM
keys spend-log rows by it) and a `usage` block with deterministic token counts, so spend can be
checked exactly:

  prompt/input tokens      = number of whitespace-separated words in all message contents
  completion/output tokens = FAKE_PROVIDER_COMPLETION_TOKENS (default 7): the reply's word count

Settings (environment): FAKE_PROVIDER_API_KEY (when set, requests must carry it as a Bearer
token or x-api-key, else 401), FAKE_PROVIDER_LATENCY_MS (added to every request; a request
header x-fake-latency-ms overrides it), FAKE_PROVIDER_COMPLETION_TOKENS.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODELS = ("gpt-4-turbo", "gpt-3.5-turbo", "claude-3-sonnet", "text-embedding-3-small")


def completion_tokens() -> int:
    return int(os.environ.get("FAKE_PROVIDER_COMPLETION_TOKENS", "7"))


def reply_words() -> list[str]:
    return [f"word{i}" for i in range(completion_tokens())]


def count_words(messages) -> int:
    total = 0
    for message in messages or []:
        content = message.get("content", "")
        if isinstance(content, list):  # content parts
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        total += len(str(content).split())
    return total


class Handler(BaseHTTPRequestHandler):
    server_version = "fake-provider/1"
    protocol_version = "HTTP/1.1"
    # Headers and body are separate writes: without TCP_NODELAY, Nagle and delayed ACK hold the
    # body ~40 ms on every reused (keep-alive) connection.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet: tests read responses, not logs
        pass

    # plumbing -------------------------------------------------------------------------------

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _events(self, chunks) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for event, payload in chunks:
            prefix = f"event: {event}\n" if event else ""
            data = payload if isinstance(payload, str) else json.dumps(payload)
            self.wfile.write(f"{prefix}data: {data}\n\n".encode())
            self.wfile.flush()
        self.close_connection = True

    def _authorized(self) -> bool:
        expected = os.environ.get("FAKE_PROVIDER_API_KEY")
        if not expected:
            return True
        bearer = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return expected in (bearer, self.headers.get("x-api-key", "").strip())

    def _delay(self) -> None:
        millis = self.headers.get("x-fake-latency-ms") or os.environ.get("FAKE_PROVIDER_LATENCY_MS")
        if millis:
            time.sleep(float(millis) / 1000)

    # routes ---------------------------------------------------------------------------------

    def do_GET(self):  # noqa: N802
        path = self.path.split("?")[0].rstrip("/")
        if path in ("/health", ""):
            return self._json(HTTPStatus.OK, {"status": "ok"})
        if path in ("/v1/models", "/models"):
            data = [{"id": m, "object": "model", "owned_by": "fake"} for m in MODELS]
            return self._json(HTTPStatus.OK, {"object": "list", "data": data})
        return self._json(HTTPStatus.NOT_FOUND, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self):  # noqa: N802
        path = self.path.split("?")[0].rstrip("/")
        if not self._authorized():
            return self._json(
                HTTPStatus.UNAUTHORIZED,
                {
                    "error": {
                        "message": "Incorrect API key provided",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
            )
        body = self._body()
        self._delay()
        if path.endswith("/chat/completions"):
            return self._chat(body)
        if path.endswith("/embeddings"):
            return self._embeddings(body)
        if path.endswith("/messages"):
            return self._anthropic(body)
        return self._json(HTTPStatus.NOT_FOUND, {"error": {"message": f"no route {self.path}"}})

    def _chat(self, body):
        ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        model = body.get("model", "fake")
        prompt, words = count_words(body.get("messages")), reply_words()
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": len(words),
            "total_tokens": prompt + len(words),
        }
        if not body.get("stream"):
            return self._json(
                HTTPStatus.OK,
                {
                    "id": ident,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": " ".join(words)},
                        }
                    ],
                    "usage": usage,
                },
            )

        def chunk(delta, finish=None):
            return None, {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        chunks = [chunk({"role": "assistant", "content": ""})]
        chunks += [chunk({"content": (" " if i else "") + w}) for i, w in enumerate(words)]
        chunks.append(chunk({}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append(
                (
                    None,
                    {
                        "id": ident,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": usage,
                    },
                )
            )
        chunks.append((None, "[DONE]"))
        return self._events(chunks)

    def _embeddings(self, body):
        inputs = body.get("input")
        inputs = inputs if isinstance(inputs, list) else [inputs]
        tokens = sum(len(str(i).split()) for i in inputs)
        data = [
            {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}
            for i in range(len(inputs))
        ]
        return self._json(
            HTTPStatus.OK,
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "fake"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _anthropic(self, body):
        ident, model = f"msg_{uuid.uuid4().hex}", body.get("model", "fake")
        prompt, words = count_words(body.get("messages")), reply_words()
        usage = {"input_tokens": prompt, "output_tokens": len(words)}
        message = {
            "id": ident,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": " ".join(words)}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            return self._json(HTTPStatus.OK, message)
        start = dict(
            message,
            content=[],
            stop_reason=None,
            usage={"input_tokens": prompt, "output_tokens": 0},
        )
        events = [
            ("message_start", {"type": "message_start", "message": start}),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
        ]
        events += [
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": (" " if i else "") + w},
                },
            )
            for i, w in enumerate(words)
        ]
        events += [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": len(words)},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        return self._events(events)


def serve(host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9999)
    args = parser.parse_args()
    serve(args.host, args.port).serve_forever()


if __name__ == "__main__":
    main()
