"""HTTP clients for what seeding talks to: LiteLLM's admin API (credentials, models) and the
SaaS API (model groups, organizations, teams). Reads that fail transiently (connection errors,
timeouts, 5xx) are retried a bounded number of times; a write is sent once (a lost answer may
hide a done write: the caller reads back instead of repeating it) and a refusal (4xx) stops
with the service's own message. Every write is counted, so "nothing to do" can be proven.

One client is shared by the threads of a parallel apply: httpx.Client is thread-safe and its
pool holds enough connections for them; the write counter takes a lock."""

from __future__ import annotations

import threading
import time

import httpx

RETRIES = 4
PAGE = 100  # LiteLLM's largest page
# Connections kept open per client: the largest parallel apply reuses its connections instead of
# opening one per request (httpx keeps 20 by default).
POOL_CONNECTIONS = 64
BACKOFF_SECONDS = 1.0


class ProvisioningError(Exception):
    """A request was refused or kept failing; the message says which and why (never a secret)."""


class TransientError(ProvisioningError):
    """No usable answer (connection, timeout, 5xx): retrying later may succeed."""


class Api:
    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        label: str,
        timeout: float = 60,
        transport: httpx.BaseTransport | None = None,
    ):
        self.label = label
        self.writes = 0
        self._count_lock = threading.Lock()
        self._http = httpx.Client(
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(
                max_connections=POOL_CONNECTIONS, max_keepalive_connections=POOL_CONNECTIONS
            ),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, method: str, path: str, *, missing_ok: bool = False, **kwargs):
        if method != "GET":
            with self._count_lock:
                self.writes += 1
        attempts = RETRIES + 1 if method == "GET" else 1
        for attempt in range(attempts):
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as error:
                problem = f"{type(error).__name__}"
            else:
                if missing_ok and response.status_code == 404:
                    return None
                if response.status_code < 400:
                    return response.json() if response.content else None
                if response.status_code < 500:
                    raise ProvisioningError(
                        f"{self.label} refused {method} {path}: {response.status_code} "
                        f"{_message(response)}"
                    )
                problem = f"{response.status_code} {_message(response)}"
            if attempt + 1 < attempts:
                time.sleep(BACKOFF_SECONDS * 2**attempt)
        raise TransientError(
            f"{self.label} {method} {path} failed ({problem}) after {attempts} attempt(s)"
        )


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        body = body.get("error", body.get("detail", body))
        if isinstance(body, dict):
            body = body.get("message", body)
    return str(body)[:300]


class LiteLLMAdmin(Api):
    def __init__(self, base_url: str, master_key: str, **kwargs):
        super().__init__(
            base_url, {"Authorization": f"Bearer {master_key}"}, label="LiteLLM", **kwargs
        )

    def credentials(self) -> list[dict]:
        return self.request("GET", "/credentials").get("credentials", [])

    def models(self) -> list[dict]:
        return self.request("GET", "/model/info").get("data", [])

    def teams(self) -> list[dict]:
        # /v2/team/list, paged: /team/list reads every team's keys one query at a time (5 s
        # for 1,000 teams).
        return self._pages("/v2/team/list", "teams", {"page_size": PAGE, "sort_by": "team_id"})

    def virtual_keys(self) -> list[dict]:
        return self._pages("/key/list", "keys", {"return_full_object": "true", "size": PAGE})

    def _pages(self, path: str, field: str, params: dict) -> list[dict]:
        items, page = [], 1
        while True:
            body = self.request("GET", path, params=params | {"page": page})
            items += body.get(field) or []
            if page >= (body.get("total_pages") or 1):
                return items
            page += 1


class SaasAdmin(Api):
    def __init__(self, base_url: str, admin_key: str, **kwargs):
        super().__init__(base_url, {"X-Admin-Key": admin_key}, label="the SaaS API", **kwargs)

    def model_groups(self) -> list[dict]:
        return self.request("GET", "/api/model-groups")

    def organizations(self) -> list[dict]:
        return self.request("GET", "/api/organizations")

    def teams(self) -> list[dict]:
        return self.request("GET", "/api/teams")
