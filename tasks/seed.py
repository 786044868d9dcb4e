"""The post-deploy seed: the spec file named by `seed_spec` in group_data reconciled through
LiteLLM's and the SaaS API's own APIs, as `python -m provisioning apply --yes` would.

The spec is validated before any host is touched (`check_seed_spec`, from deploy.py's
preflight). On the first `api` host a fact reads the live state (provisioning.snapshot, run with
the SaaS API's venv): when it already matches the spec the step is "No change"; otherwise, at
execution time, the control machine plans again against the state of that moment and applies it
through SSH tunnels, the way the CLI does. Nothing is ever pruned here: removing objects is the
operator's explicit `python -m provisioning apply --prune`. Issued team keys go to
secrets/<env>-team-keys.json (0600) on the control machine, never to the output."""

from __future__ import annotations

import functools
from pathlib import Path

from pyinfra import host, inventory, logger
from pyinfra.api import FunctionCommand, deploy, operation
from pyinfra.operations import files

from bundle.deploy_secrets import secrets_for
from bundle.facts import SeedSnapshot
from bundle.preflight import PreflightError
from provisioning.apply import ApplyFailed, apply, make_plan, plan_against, progress_lines
from provisioning.cli import (
    REPO,
    CliError,
    concurrency_for,
    default_keys_file,
    resolve_secrets,
    services,
    write_keys,
)
from provisioning.spec import Spec, SpecError, env_secret_checker, load_spec
from tasks.saas_api import ENV_FILE, ROOT, VENV
from tasks.saas_api import setting as saas_api_setting

# Where the snapshot reader lives on the api host (beside the SaaS API, run with its venv).
READER = f"{ROOT}/seed"
READER_MODULES = ("__init__.py", "clients.py", "snapshot.py")
# What the control machine needs of an inventory host: the tunnels' connection data, and the
# SaaS API's worker count the apply's concurrency is sized to.
TUNNEL_KEYS = (
    "saas_api_workers",
    "private_address",
    "litellm_port",
    "saas_api_port",
    "ssh_user",
    "ssh_port",
    "ssh_key",
    "ssh_known_hosts_file",
    "ssh_hostname",
)


def spec_path(data) -> Path | None:
    value = data.get("seed_spec")
    return None if not value else (REPO / value).resolve()


@functools.cache
def _load(path: Path, environment: str) -> Spec:
    return load_spec(path, env_secret_checker(store=secrets_for(environment)))


def check_seed_spec(data) -> None:
    """Preflight: the whole spec valid, every credential's secret set; else stop, naming them."""
    path = spec_path(data)
    if path is None:
        return
    try:
        _load(path, data.get("environment"))
    except SpecError as error:
        raise PreflightError(
            "seed_spec (group_data) names a spec with problems; fix them or unset seed_spec:\n"
            + "\n".join(error.problems)
        ) from None


def _tunnel_host(member) -> dict:
    return {"name": member.name, "data": {k: member.data.get(k) for k in TUNNEL_KEYS}}


@deploy("Seed")
def deploy_seed():
    path = spec_path(host.data)
    first = inventory.get_group("api")[0]
    if path is None:
        host.noop("no seed_spec in group_data: nothing to seed")
        return
    if host.name != first.name:
        host.noop(f"the seed runs from {first.name}")
        return
    files.directory(name=f"Create {READER}/provisioning", path=f"{READER}/provisioning", mode="755")
    for module in READER_MODULES:
        files.put(
            name=f"Install the seed's live-state reader: provisioning/{module}",
            src=str(REPO / "provisioning" / module),
            dest=f"{READER}/provisioning/{module}",
            mode="644",
        )
    own_address = host.data.get("private_address")
    snapshot = host.get_fact(
        SeedSnapshot,
        python=f"{VENV}/bin/python",
        reader=READER,
        env_file=ENV_FILE,
        saas_url=f"http://{own_address}:{saas_api_setting('saas_api_port')}",
    )
    seeded(
        name=f"Apply the seed spec {path.relative_to(REPO) if path.is_relative_to(REPO) else path}",
        path=str(path),
        environment=host.data.get("environment"),
        snapshot=snapshot,
        llm=_tunnel_host(inventory.get_group("llm")[0]),
        api=_tunnel_host(first),
    )


@operation()
def seeded(path: str, environment: str, snapshot: dict | None, llm: dict, api: dict):
    """
    The live state reconciled with the spec at ``path``: "No change" when ``snapshot`` (the
    live state this deploy read) already matches it.
    """
    spec = _load(Path(path), environment)
    if snapshot is not None:
        secrets = resolve_secrets(spec, secrets_for(environment))
        pending = [c for c in plan_against(spec, secrets, snapshot) if c.action != "unchanged"]
        if not pending:
            host.noop(f"the live state matches {path}")
            return
        for change in pending:
            logger.info(f"    seed plan: {change}")
    yield FunctionCommand(_apply, (path, environment, llm, api), {})


def _apply(path: str, environment: str, llm: dict, api: dict) -> None:
    """At execution time, on the control machine: plan against the state of this moment and
    apply it. A failure raises, failing the step with the service's own message."""
    spec = _load(Path(path), environment)
    store = secrets_for(environment)
    secrets = resolve_secrets(spec, store)
    keys: dict[str, str] = {}
    try:
        with services(llm, api, store) as (litellm, saas):
            changes = make_plan(spec, secrets, litellm, saas)
            keys = apply(
                spec,
                secrets,
                changes,
                litellm,
                saas,
                concurrency=concurrency_for(api),
                progress=progress_lines(lambda line: logger.info(f"    seed {line}")),
                notice=lambda message: logger.info(f"    seed: {message}"),
            ).issued_keys
    except CliError as error:
        raise RuntimeError(f"seed: {error}") from None
    except ApplyFailed as failed:
        keys = failed.result.issued_keys
        raise RuntimeError(f"seed: {failed}") from None
    finally:
        if keys:
            keys_file = default_keys_file(environment)
            write_keys(keys_file, keys)
            logger.info(f"    seed: {len(keys)} team key(s) written to {keys_file}")
