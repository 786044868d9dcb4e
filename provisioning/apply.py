"""Carry out a plan: each change is one write to LiteLLM or the SaaS API, in the plan's order
of kinds (credentials → models → groups → organizations → teams; deletions last, reversed), the
writes of one kind several at a time. Afterwards the live state is read back and planned again:
anything not "unchanged" then is an error.

Issued team keys are returned to the caller (the CLI writes them to a 0600 file); nothing here
prints a secret."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from provisioning import snapshot
from provisioning.clients import LiteLLMAdmin, ProvisioningError, SaasAdmin
from provisioning.drift import drift
from provisioning.plan import (
    MANAGED_BY,
    Change,
    desired_state,
    fingerprint,
    live_credentials,
    live_model_groups,
    live_models,
    live_organizations,
    live_teams,
    per_token,
    plan,
)
from provisioning.spec import Spec

# Every LiteLLM worker keeps its own copy of the database's models and reloads it on this
# interval (tasks/litellm.py writes it into general_settings.proxy_config_reload_interval_seconds).
# Until each worker has reloaded, /model/info answers from whichever worker takes the connection:
# a read right after /model/new may not list the new model yet.
LITELLM_MODEL_RELOAD_SECONDS = 30
# The SaaS API's live check of a group's models lags /model/new by up to one reload.
MODEL_VISIBILITY_SECONDS = 3 * LITELLM_MODEL_RELOAD_SECONDS


# Writes in flight at once, unless told otherwise. Every team create costs the SaaS API one
# transaction and LiteLLM four admin requests; past about four per SaaS API worker the services'
# processes are busy all the time and more in flight only queue (measured: README, "Seeding").
WRITES_PER_SAAS_WORKER = 4
MAX_CONCURRENCY = 64


@dataclass
class Result:
    changes: list[Change]
    issued_keys: dict[str, str] = field(default_factory=dict)  # team id → virtual key


@dataclass(frozen=True)
class Progress:
    """One change finished (or failed): how far the apply is, and how fast it goes."""

    done: int
    total: int
    change: Change
    rate: float  # changes finished per second so far
    failed: int = 0  # of the `done`
    succeeded: bool = True  # this change

    def __str__(self) -> str:
        outcome = "" if self.succeeded else "FAILED "
        failed = f", {self.failed} failed" if self.failed else ""
        return f"[{self.done}/{self.total}] {outcome}{self.change} ({self.rate:.1f}/s{failed})"


@dataclass(frozen=True)
class Failure:
    change: Change
    error: str

    def __str__(self) -> str:
        return f"{self.change}: {self.error}"


class ApplyFailed(ProvisioningError):
    """Some writes failed. What succeeded stands (its issued keys are in `result`); what was not
    started yet was left alone; applying the same spec again picks up exactly the rest."""

    def __init__(self, failures: list[Failure], result: Result, not_started: int):
        self.failures, self.result, self.not_started = failures, result, not_started
        lines = [f"{len(failures)} change(s) failed:"] + [f"  {f}" for f in failures]
        if not_started:
            lines.append(f"{not_started} change(s) not started; apply again to finish")
        super().__init__("\n".join(lines))


def default_concurrency(saas_api_workers: int) -> int:
    return max(1, min(MAX_CONCURRENCY, WRITES_PER_SAAS_WORKER * saas_api_workers))


def progress_lines(emit: Callable[[str], None], *, every_seconds: float = 2.0, all_up_to=20):
    """A progress callback that emits every line of a short apply, and of a long one the first,
    one every `every_seconds`, each failure and the last: 1,000 teams are not 1,000 lines."""
    last = [float("-inf")]

    def report(progress: Progress) -> None:
        now = time.monotonic()
        if (
            progress.total <= all_up_to
            or progress.done in (1, progress.total)
            or now - last[0] >= every_seconds
            or not progress.succeeded
        ):
            last[0] = now
            emit(str(progress))

    return report


def live_state(snapshot: dict[str, list[dict]]) -> dict[str, dict[str, dict]]:
    return {
        "credential": live_credentials(snapshot["credentials"]),
        "model": live_models(snapshot["models"]),
        "model_group": live_model_groups(snapshot["model_groups"]),
        "organization": live_organizations(snapshot["organizations"]),
        "team": live_teams(snapshot["teams"]),
    }


def plan_against(
    spec: Spec, secrets: dict[str, str], snapshot: dict[str, list[dict]], *, prune: bool = False
) -> list[Change]:
    """The spec's changes against a live snapshot, plus a repair for every spec team whose
    LiteLLM side drifted (the SaaS API pushes its stored state again: field `litellm`)."""
    changes = plan(desired_state(spec, secrets), live_state(snapshot), prune=prune)
    drifted = {d.team_id for d in drift(snapshot) if d.team_id}
    return [
        Change(c.kind, c.name, "updated", ("litellm",))
        if c.kind == "team" and c.action == "unchanged" and c.name in drifted
        else c
        for c in changes
    ]


def make_plan(
    spec: Spec,
    secrets: dict[str, str],
    litellm: LiteLLMAdmin,
    saas: SaasAdmin,
    *,
    prune: bool = False,
) -> list[Change]:
    """plan_against() the live state read now."""
    return plan_against(spec, secrets, snapshot.read(litellm, saas), prune=prune)


def stages(todo: list[Change]) -> list[list[Change]]:
    """The plan cut where one kind's writes must be finished before the next kind's start
    (a model needs its credential, a team its groups and organization; deletions run in the
    reverse order). The plan is already in that order, so the cuts fall where (kind, deleting)
    changes; within a stage no write depends on another."""
    cut: list[list[Change]] = []
    for change in todo:
        key = (change.kind, change.action == "deleted")
        if cut and (cut[-1][0].kind, cut[-1][0].action == "deleted") == key:
            cut[-1].append(change)
        else:
            cut.append([change])
    return cut


def apply(
    spec: Spec,
    secrets: dict[str, str],
    changes: list[Change],
    litellm: LiteLLMAdmin,
    saas: SaasAdmin,
    *,
    concurrency: int = default_concurrency(2),
    progress: Callable[[Progress], None] = lambda progress: None,
    notice: Callable[[str], None] = lambda message: None,
    model_reload_seconds: float = LITELLM_MODEL_RELOAD_SECONDS,
) -> Result:
    """Write `changes`, up to `concurrency` at once within each stage, then read back.

    A failed write stops new ones: the writes in flight finish, later stages are not started,
    and ApplyFailed names every failed change. Each write is one request that the services make
    idempotent, so an apply cut short anywhere is finished by planning and applying again.
    `model_reload_seconds`: LiteLLM's model reload interval, waited out after model writes when
    it runs several processes; 0 when one process serves every request (nothing to wait for)."""
    by_kind = {
        "credential": {c.name: c for c in spec.credentials},
        "model": {m.model_id: m for m in spec.models},
        "model_group": {g.name: g for g in spec.model_groups},
        "organization": {o.id: o for o in spec.organizations},
        "team": {t.id: t for t in spec.teams},
    }
    result = Result(changes)
    todo = [c for c in changes if c.action != "unchanged"]
    counter = _Counter(len(todo), progress)
    failures: list[Failure] = []

    def write(change: Change) -> str | None:
        item = by_kind[change.kind].get(change.name)
        return WRITERS[change.kind](change, item, secrets, litellm, saas)

    last_model_write = None
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="apply") as pool:
        for stage in stages(todo):
            failures = _run_stage(pool, stage, concurrency, write, result, counter)
            if stage[0].kind == "model":
                last_model_write = time.monotonic()
            if failures:
                raise ApplyFailed(failures, result, len(todo) - counter.done)
    if last_model_write is not None and model_reload_seconds:
        _wait_for_every_worker(last_model_write + model_reload_seconds, notice)
    if todo:
        prune = any(c.action == "deleted" for c in changes)
        left = [
            c
            for c in make_plan(spec, secrets, litellm, saas, prune=prune)
            if c.action != "unchanged"
        ]
        if left:
            raise ProvisioningError(
                "read back after applying, these still differ: " + "; ".join(map(str, left))
            )
    return result


class _Counter:
    """Finished changes and their rate, reported from whichever thread finished one."""

    def __init__(self, total: int, progress: Callable[[Progress], None]):
        self.total, self.done, self.failed = total, 0, 0
        self._progress = progress
        self._started = time.monotonic()

    def finished(self, change: Change, *, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        rate = self.done / max(time.monotonic() - self._started, 1e-6)
        self._progress(Progress(self.done, self.total, change, rate, self.failed, not failed))


def _run_stage(pool, stage, concurrency, write, result, counter) -> list[Failure]:
    """Submit the stage's writes keeping at most `concurrency` in flight; after a failure submit
    no more and wait for the rest. Results are collected on this thread only."""
    waiting = iter(stage)
    in_flight: dict = {}
    failures: list[Failure] = []
    while True:
        while not failures and len(in_flight) < max(1, concurrency):
            change = next(waiting, None)
            if change is None:
                break
            in_flight[pool.submit(write, change)] = change
        if not in_flight:
            return failures
        finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in finished:
            change = in_flight.pop(future)
            error = future.exception()
            if error is None:
                issued = future.result()
                if issued:
                    result.issued_keys[change.name] = issued
            elif isinstance(error, ProvisioningError):
                failures.append(Failure(change, str(error)))
            else:
                failures.append(Failure(change, f"{type(error).__name__}: {error}"))
            counter.finished(change, failed=error is not None)


def _wait_for_every_worker(reloaded_by: float, notice: Callable[[str], None]) -> None:
    """Until every LiteLLM worker has reloaded its models, both the read-back below and the next
    plan could see an old copy and plan the same model write again (a second seed must change
    nothing). The workers cannot be asked one by one, so wait out one reload interval."""
    left = reloaded_by + 5 - time.monotonic()
    if left > 0:
        notice(f"waiting {left:.0f} s for every LiteLLM worker to load the model changes")
        time.sleep(left)


# one writer per kind ---------------------------------------------------------------------------


def _credential(change, credential, secrets, litellm, saas):
    if change.action == "deleted":
        litellm.request("DELETE", f"/credentials/{change.name}", missing_ok=True)
        return None
    values = {"api_key": secrets[credential.name]}
    info = {
        "custom_llm_provider": credential.provider,
        "secret_fingerprint": fingerprint(secrets[credential.name]),
        "managed_by": MANAGED_BY,
    }
    for optional in ("api_base", "api_version"):
        value = getattr(credential, optional)
        info[optional] = value
        if value is not None:
            values[optional] = value
    body = {
        "credential_name": credential.name,
        "credential_values": values,
        "credential_info": info,
    }
    if change.action == "created":
        litellm.request("POST", "/credentials", json=body)
    else:
        litellm.request("PATCH", f"/credentials/{credential.name}", json=body)
    return None


def _model(change, model, secrets, litellm, saas):
    if change.action == "deleted":
        litellm.request("POST", "/model/delete", json={"id": change.name}, missing_ok=True)
        return None
    params = {
        "model": model.model,
        "litellm_credential_name": model.credential,
        "input_cost_per_token": per_token(model.input_cost_per_1k_tokens),
        "output_cost_per_token": per_token(model.output_cost_per_1k_tokens),
        "rpm": model.rpm,
        "tpm": model.tpm,
    }
    body = {
        "model_name": model.name,
        "litellm_params": params,
        "model_info": {"id": model.model_id, "mode": model.mode, "managed_by": MANAGED_BY},
    }
    if change.action == "created":
        litellm.request("POST", "/model/new", json=body)
    else:
        litellm.request("POST", "/model/update", json=body)
    return None


def _model_group(change, group, secrets, litellm, saas):
    if change.action == "deleted":
        saas.request("DELETE", f"/api/model-groups/{change.name}", missing_ok=True)
        return None
    body = {"models": group.models, "description": group.description}
    deadline = time.monotonic() + MODEL_VISIBILITY_SECONDS
    while True:
        try:
            if change.action == "created":
                saas.request(
                    "POST",
                    "/api/model-groups/create",
                    json={"name": group.name, "managed_by": MANAGED_BY, **body},
                )
            else:
                saas.request("PUT", f"/api/model-groups/{group.name}", json=body)
            return None
        except ProvisioningError as error:
            if "not known to LiteLLM" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(3)


def _organization(change, organization, secrets, litellm, saas):
    if change.action == "deleted":
        saas.request("DELETE", f"/api/organizations/{change.name}", missing_ok=True)
        return None
    body = {
        "name": organization.name,
        "litellm_organization_id": organization.litellm_organization_id,
    }
    if change.action == "created":
        saas.request(
            "POST",
            "/api/organizations/create",
            json={"organization_id": organization.id, "managed_by": MANAGED_BY, **body},
        )
    else:
        saas.request("PUT", f"/api/organizations/{organization.id}", json=body)
    return None


TEAM_FIELDS = ("name", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "metadata")


def _team(change, team, secrets, litellm, saas):
    if change.action == "deleted":
        saas.request("DELETE", f"/api/teams/{change.name}", missing_ok=True)
        return None
    body = {field: getattr(team, field) for field in TEAM_FIELDS} | {
        "model_groups": team.model_groups
    }
    if change.action == "created":
        created = saas.request(
            "POST",
            "/api/teams/create",
            json=body
            | {
                "litellm_team_id": team.id,
                "organization_id": team.organization,
                "managed_by": MANAGED_BY,
            },
        )
        return created.get("virtual_key")
    if "organization" in change.fields:
        raise ProvisioningError(
            f"team {team.id}: its organization cannot change; delete the team (drop it from the "
            "spec and apply with --prune) and create it again under the new organization"
        )
    # `litellm` alone (a drift repair) sends an empty change: the SaaS API pushes its state.
    saas.request(
        "PUT", f"/api/teams/{team.id}", json={f: body[f] for f in change.fields if f in body}
    )
    return None


WRITERS = {
    "credential": _credential,
    "model": _model,
    "model_group": _model_group,
    "organization": _organization,
    "team": _team,
}
