"""Clients of the testbed's TLS edge, from the control machine (the admin network)."""

from __future__ import annotations

import time

import httpx

from .conftest import REPO, Background

GATEWAY, API = "gateway.testbed.internal", "api.testbed.internal"
ADMIN = "admin.testbed.internal"  # the admin panel's site (edge_admin_host)
CA = REPO / "secrets" / "testbed-edge-ca.crt"
# How long the edge may keep sending requests to a dead upstream: its active health check's
# interval + timeout (edge_health_interval, edge_health_timeout in tasks/edge.py), + 1 s.
NOTICED_WITHIN = 2 + 2 + 1


def edge_chat(client: httpx.Client, edge_address: str, key: str, model: str, content: str):
    """One chat completion with `key` on the gateway's site of the edge."""
    return client.post(
        f"https://{edge_address}/chat/completions",
        headers={"Host": GATEWAY, "Authorization": f"Bearer {key}"},
        extensions={"sni_hostname": GATEWAY},
        json={"model": model, "messages": [{"role": "user", "content": content}]},
    )


def edge_chats(edge_address: str, key: str, model: str, count: int) -> tuple[list[dict], float]:
    """`count` chat completions through the edge, one after another; (each answer's usage, the
    requests per second)."""
    usages, started = [], time.monotonic()
    with httpx.Client(verify=str(CA), timeout=60) as client:
        for i in range(count):
            answer = edge_chat(client, edge_address, key, model, f"count {i}")
            assert answer.status_code == 200, (answer.status_code, answer.text[:300])
            usages.append(answer.json()["usage"])
    return usages, count / (time.monotonic() - started)


def edge_serves_again(edge_address: str, key: str, model: str, timeout: float = 60) -> float:
    """Seconds until a chat completion through the edge answers 200, polled after every
    instance behind it was down: the instances' readiness comes first, the edge counts them in
    again only at its next passing health check (until then it answers 503)."""
    started = time.monotonic()
    with httpx.Client(verify=str(CA), timeout=30) as client:
        while True:
            answer = edge_chat(client, edge_address, key, model, "back?")
            waited = time.monotonic() - started
            if answer.status_code == 200:
                return waited
            assert answer.status_code == 503 and waited < timeout, (answer.status_code, waited)
            time.sleep(0.5)


class EdgeLoad(Background):
    """Requests through the edge, one after another, from the admin network: a chat completion
    with the team's key on the gateway, then (`api`) the team's own record on the SaaS API,
    again and again until stopped. Records (time, what, outcome) for every request."""

    def __init__(self, edge_address: str, team: dict, *, api: bool = True):
        super().__init__()
        self.address, self.team, self.api = edge_address, team, api
        self.records: list[tuple[float, str, str]] = []

    def _request(self, client, site, method, path, **kwargs) -> str:
        headers = {"Host": site, "Authorization": f"Bearer {self.team['key']}"}
        try:
            answer = client.request(
                method,
                f"https://{self.address}{path}",
                headers=headers,
                extensions={"sni_hostname": site},
                **kwargs,
            )
        except httpx.HTTPError as error:
            return type(error).__name__
        return "ok" if answer.status_code == 200 else f"HTTP {answer.status_code}"

    def _loop(self):
        chat = {"model": self.team["model"], "messages": [{"role": "user", "content": "drill"}]}
        with httpx.Client(verify=str(CA), timeout=30) as client:
            while not self._stop.is_set():
                outcome = self._request(client, GATEWAY, "POST", "/chat/completions", json=chat)
                self.records.append((time.monotonic(), "chat", outcome))
                if self.api:
                    outcome = self._request(client, API, "GET", "/api/me/usage")
                    self.records.append((time.monotonic(), "api", outcome))

    def run_for(self, requests: int, timeout: float = 300) -> None:
        """Return once `requests` more requests have finished."""
        target, deadline = len(self.records) + requests, time.monotonic() + timeout
        while len(self.records) < target:
            assert time.monotonic() < deadline, f"the load stalled at {len(self.records)}"
            time.sleep(0.2)

    def run_until(self, moment: float) -> None:
        """Return at `moment` (time.monotonic()), then once one more request has finished."""
        while time.monotonic() < moment:
            time.sleep(0.2)
        self.run_for(1)

    def failures(self, since: float) -> list[tuple[float, str, str]]:
        return [r for r in self.records if r[0] >= since and r[2] != "ok"]
