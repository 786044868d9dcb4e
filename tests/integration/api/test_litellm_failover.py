"""The SaaS API's LiteLLM client with several LiteLLM URLs (one per llm host): a request that
could not connect goes to the next URL, as does a failed read; a write that may have been
delivered is never repeated."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest
from saas_api.litellm import LiteLLMClient, LiteLLMUnavailable


def closed_url() -> str:
    """A loopback URL nothing listens on (its port bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@contextlib.contextmanager
def silent_url():
    """A loopback URL that accepts connections (the kernel's backlog) but never answers: a
    request to it is sent, then times out."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        yield f"http://127.0.0.1:{silent.getsockname()[1]}"


def with_client(urls, proxy, call, *, timeout=30.0):
    """`call(client)` on a LiteLLMClient over `urls`, closed afterwards."""

    async def run():
        client = LiteLLMClient(urls, proxy.master_key, timeout=timeout)
        try:
            return await call(client)
        finally:
            await client.close()

    return asyncio.run(run())


def test_a_host_that_refuses_connections_is_skipped(litellm_proxy):
    async def twice(client):
        return [await client.readiness(), await client.readiness()]

    for answer in with_client([closed_url(), litellm_proxy.base_url], litellm_proxy, twice):
        assert answer["db"] == "connected", answer


def test_a_request_that_may_have_been_delivered_is_not_repeated(litellm_proxy):
    with silent_url() as stalled, pytest.raises(LiteLLMUnavailable, match="ReadTimeout"):
        with_client(
            [stalled, litellm_proxy.base_url],
            litellm_proxy,
            lambda client: client.create_team("never-sent-twice"),
            timeout=1,
        )
    team = with_client(
        [litellm_proxy.base_url], litellm_proxy, lambda client: client.get_team("never-sent-twice")
    )
    assert team is None


def test_a_read_that_timed_out_is_asked_of_the_next_host(litellm_proxy):
    with silent_url() as stalled:
        answer = with_client(
            [stalled, litellm_proxy.base_url],
            litellm_proxy,
            lambda client: client.readiness(),
            timeout=1,
        )
    assert answer["db"] == "connected"


def test_every_host_refusing_is_unavailable(litellm_proxy):
    with pytest.raises(LiteLLMUnavailable, match="ConnectError"):
        with_client([closed_url(), closed_url()], litellm_proxy, lambda client: client.readiness())
