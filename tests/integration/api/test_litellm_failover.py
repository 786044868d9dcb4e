"""The SaaS API's LiteLLM client with several LiteLLM URLs (one per llm host): a request that
could not connect goes to the next URL, as does a failed read; a write that may have been
delivered is never repeated."""

from __future__ import annotations

import asyncio
import socket

import pytest
from saas_api.litellm import LiteLLMClient, LiteLLMUnavailable


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_host_that_refuses_connections_is_skipped(litellm_proxy):
    dead = f"http://127.0.0.1:{closed_port()}"

    async def calls():
        client = LiteLLMClient([dead, litellm_proxy.base_url], litellm_proxy.master_key)
        try:
            return [await client.readiness(), await client.readiness()]
        finally:
            await client.close()

    for answer in asyncio.run(calls()):
        assert answer["db"] == "connected", answer


def test_a_request_that_may_have_been_delivered_is_not_repeated(litellm_proxy):
    # Accepts connections (the kernel's backlog) but never answers: the request was sent.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        stalled = f"http://127.0.0.1:{silent.getsockname()[1]}"

        async def call():
            client = LiteLLMClient(
                [stalled, litellm_proxy.base_url], litellm_proxy.master_key, timeout=1
            )
            try:
                await client.create_team("never-sent-twice")
            finally:
                await client.close()

        with pytest.raises(LiteLLMUnavailable, match="ReadTimeout"):
            asyncio.run(call())

    async def lookup():
        client = LiteLLMClient([litellm_proxy.base_url], litellm_proxy.master_key)
        try:
            return await client.get_team("never-sent-twice")
        finally:
            await client.close()

    assert asyncio.run(lookup()) is None


def test_a_read_that_timed_out_is_asked_of_the_next_host(litellm_proxy):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        stalled = f"http://127.0.0.1:{silent.getsockname()[1]}"

        async def call():
            client = LiteLLMClient(
                [stalled, litellm_proxy.base_url], litellm_proxy.master_key, timeout=1
            )
            try:
                return await client.readiness()
            finally:
                await client.close()

        assert asyncio.run(call())["db"] == "connected"


def test_every_host_refusing_is_unavailable(litellm_proxy):
    async def call():
        client = LiteLLMClient(
            [f"http://127.0.0.1:{closed_port()}", f"http://127.0.0.1:{closed_port()}"],
            litellm_proxy.master_key,
        )
        try:
            await client.readiness()
        finally:
            await client.close()

    with pytest.raises(LiteLLMUnavailable, match="ConnectError"):
        asyncio.run(call())
