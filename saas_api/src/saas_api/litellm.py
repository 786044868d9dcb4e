"""The client for LiteLLM's admin API, with the master key.

Errors come in two kinds (callers treat them differently): LiteLLMUnavailable is "retry later"
(connection refused, timeout, 5xx); LiteLLMRejected is "give up" (LiteLLM refused the request).
A missing object is not an error: the lookups return None.

With several LiteLLM instances (on one or more hosts, sharing one database) requests take
turns over them, so every LiteLLM process does its share: staying with one kept a single
process busy through a parallel seed while the others idled. A request that could not connect
to one, and so was never sent, goes to the next, as does a read that failed in any way; an
instance that failed is passed over for a while, so a dead host costs one failed attempt per
interval, not one per request."""

from __future__ import annotations

import time
from typing import Any

import httpx

# How long an instance that failed a request is passed over (unless every one has failed).
PASS_OVER_SECONDS = 10.0


class LiteLLMError(Exception):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class LiteLLMUnavailable(LiteLLMError):
    pass


class LiteLLMRejected(LiteLLMError):
    pass


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    error = body.get("error", body.get("detail", body)) if isinstance(body, dict) else body
    if isinstance(error, dict):
        error = error.get("message", error.get("error", error))
    return str(error)[:300]


class LiteLLMClient:
    def __init__(
        self,
        base_urls: list[str],
        master_key: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self._base_urls = [url.rstrip("/") for url in base_urls]
        self._turn = 0
        self._failed_at: dict[int, float] = {}
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {master_key}"},
            timeout=timeout,
            transport=transport,
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict | None = None,
        params: dict | None = None,
        missing: tuple[int, ...] = (),
    ) -> Any:
        response = await self._send(method, path, json=json, params=params)
        if response.status_code in missing:
            return None
        if response.status_code >= 500:
            raise LiteLLMUnavailable(
                f"LiteLLM {method} {path} answered {response.status_code}: {_message(response)}",
                response.status_code,
            )
        if response.status_code >= 400:
            raise LiteLLMRejected(
                f"LiteLLM {method} {path} answered {response.status_code}: {_message(response)}",
                response.status_code,
            )
        return response.json()

    def _in_turn(self) -> list[int]:
        """The instances to try, in order: the next in turn first, recently failed ones last."""
        count = len(self._base_urls)
        start, self._turn = self._turn % count, self._turn + 1
        turns = [(start + n) % count for n in range(count)]
        now = time.monotonic()
        failed = {i for i, at in self._failed_at.items() if now - at < PASS_OVER_SECONDS}
        return [i for i in turns if i not in failed] + [i for i in turns if i in failed]

    async def _send(self, method: str, path: str, **kwargs) -> httpx.Response:
        for index in self._in_turn():
            try:
                response = await self._http.request(method, self._base_urls[index] + path, **kwargs)
            except httpx.HTTPError as error:
                failure = error
                self._failed_at[index] = time.monotonic()
                # Not sent, or only a read: the next instance may take it. A write that may have
                # been delivered is never repeated elsewhere.
                if method == "GET" or isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)):
                    continue
                break
            self._failed_at.pop(index, None)
            return response
        raise LiteLLMUnavailable(
            f"LiteLLM {method} {path}: {type(failure).__name__}: {failure}"
        ) from None

    # health and models ------------------------------------------------------------------------

    async def readiness(self) -> dict:
        return await self._call("GET", "/health/readiness")

    async def model_names(self) -> set[str]:
        """The model names LiteLLM serves (config and database)."""
        body = await self._call("GET", "/model/info")
        return {entry["model_name"] for entry in body.get("data", []) if entry.get("model_name")}

    # teams ------------------------------------------------------------------------------------

    async def get_team(self, team_id: str) -> dict | None:
        body = await self._call("GET", "/team/info", params={"team_id": team_id}, missing=(404,))
        return None if body is None else body.get("team_info", body)

    async def create_team(self, team_id: str, **fields) -> dict:
        return await self._call("POST", "/team/new", json={"team_id": team_id, **fields})

    async def update_team(self, team_id: str, **fields) -> dict:
        return await self._call("POST", "/team/update", json={"team_id": team_id, **fields})

    async def delete_team(self, team_id: str) -> None:
        await self._call("POST", "/team/delete", json={"team_ids": [team_id]}, missing=(404,))

    async def team_spends(self) -> dict[str, float]:
        """Every team's spend, by team id, in pages of LiteLLM's largest size (one query each)."""
        spends: dict[str, float] = {}
        page, pages = 1, 1
        while page <= pages:
            body = await self._call(
                "GET",
                "/v2/team/list",
                params={"page": page, "page_size": 100, "sort_by": "team_id"},
            )
            spends.update({t["team_id"]: float(t.get("spend") or 0.0) for t in body["teams"]})
            page, pages = page + 1, int(body.get("total_pages") or 0)
        return spends

    async def team_daily_activity(self, team_id: str, *, start: str, end: str) -> dict:
        """Spend per day with per-model breakdowns; dates are YYYY-MM-DD (UTC)."""
        return await self._call(
            "GET",
            "/team/daily/activity/aggregated",
            params={"team_ids": team_id, "start_date": start, "end_date": end},
        )

    # keys -------------------------------------------------------------------------------------

    async def get_key(self, key: str) -> dict | None:
        """The key's record; None when it never existed or was deleted (LiteLLM answers a
        deleted key with its archived record)."""
        body = await self._call("GET", "/key/info", params={"key": key}, missing=(404,))
        info = None if body is None else body.get("info", body)
        return None if info is None or info.get("status") == "deleted" else info

    async def generate_key(self, key: str, **fields) -> dict:
        return await self._call("POST", "/key/generate", json={"key": key, **fields})

    async def update_key(self, key: str, **fields) -> dict:
        return await self._call("POST", "/key/update", json={"key": key, **fields})

    async def delete_key(self, key: str) -> None:
        await self._call("POST", "/key/delete", json={"keys": [key]}, missing=(404,))

    async def set_key_blocked(self, key: str, blocked: bool) -> bool:
        """Blocking reaches every LiteLLM worker at once (a cache invalidation LiteLLM
        broadcasts); a delete alone does not. False when the key does not exist."""
        path = "/key/block" if blocked else "/key/unblock"
        return await self._call("POST", path, json={"key": key}, missing=(404,)) is not None
