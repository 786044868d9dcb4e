"""The fake provider, served on loopback and read back over HTTP with httpx."""

import json
import threading
import time

import httpx
import pytest

from tests.fakes import fake_provider


@pytest.fixture(scope="module")
def base_url():
    server = fake_provider.serve("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


CHAT = {"model": "gpt-4-turbo", "messages": [{"role": "user", "content": "one two three"}]}


def test_chat_completion_has_unique_ids_and_exact_usage(base_url):
    first = httpx.post(f"{base_url}/v1/chat/completions", json=CHAT).json()
    second = httpx.post(f"{base_url}/chat/completions", json=CHAT).json()
    assert first["id"] != second["id"] and first["id"].startswith("chatcmpl-")
    assert first["usage"] == {"prompt_tokens": 3, "completion_tokens": 7, "total_tokens": 10}
    assert len(first["choices"][0]["message"]["content"].split()) == 7


def test_streaming_sends_chunks_usage_and_done(base_url):
    body = CHAT | {"stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", f"{base_url}/v1/chat/completions", json=body) as response:
        assert response.headers["content-type"] == "text/event-stream"
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert len(text.split()) == 7
    assert chunks[-1]["usage"]["total_tokens"] == 10
    assert len({c["id"] for c in chunks}) == 1


def test_anthropic_messages_shape_and_usage(base_url):
    reply = httpx.post(f"{base_url}/v1/messages", json=CHAT | {"max_tokens": 10}).json()
    assert reply["type"] == "message" and reply["id"].startswith("msg_")
    assert reply["usage"] == {"input_tokens": 3, "output_tokens": 7}


def test_anthropic_streaming_ends_with_message_stop(base_url):
    body = CHAT | {"stream": True, "max_tokens": 10}
    with httpx.stream("POST", f"{base_url}/v1/messages", json=body) as response:
        events = [line[7:] for line in response.iter_lines() if line.startswith("event: ")]
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert events.count("content_block_delta") == 7


def test_embeddings_and_models(base_url):
    reply = httpx.post(f"{base_url}/v1/embeddings", json={"model": "e", "input": ["a b", "c"]})
    assert reply.json()["usage"]["prompt_tokens"] == 3 and len(reply.json()["data"]) == 2
    models = httpx.get(f"{base_url}/v1/models").json()["data"]
    assert "gpt-4-turbo" in {m["id"] for m in models}


def test_latency_header_delays_the_answer(base_url):
    started = time.monotonic()
    httpx.post(f"{base_url}/v1/chat/completions", json=CHAT, headers={"x-fake-latency-ms": "300"})
    assert time.monotonic() - started >= 0.3


def test_a_configured_api_key_is_required(base_url, monkeypatch):
    monkeypatch.setenv("FAKE_PROVIDER_API_KEY", "sk-fake-provider-key")
    denied = httpx.post(f"{base_url}/v1/chat/completions", json=CHAT)
    assert denied.status_code == 401
    allowed = httpx.post(
        f"{base_url}/v1/chat/completions",
        json=CHAT,
        headers={"Authorization": "Bearer sk-fake-provider-key"},
    )
    assert allowed.status_code == 200
    anthropic = httpx.post(
        f"{base_url}/v1/messages", json=CHAT, headers={"x-api-key": "sk-fake-provider-key"}
    )
    assert anthropic.status_code == 200
