"""`python -m provisioning plan|apply|drift --inventory inventories/<env>.py [--spec FILE]`.

Everything local is checked before any host is contacted: the inventory (read by pyinfra itself),
the environment's secret store and the whole spec. Then the services are reached the way an
operator reaches them: SSH tunnels through the first `llm` and `api` hosts to their private
addresses. `apply` shows the plan and asks before writing (unless --yes); issued team keys go
to a 0600 JSON file on this machine (or to standard output with --print-keys), never to logs.

This is the one part of provisioning/ that knows about inventories (through bundle/): the
reconcile library itself speaks HTTP only."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections import Counter
from pathlib import Path

from bundle import sizing
from bundle.inventory_data import InventoryError, load_hosts
from bundle.secret_store import SecretStore, SecretStoreError
from bundle.ssh_tunnel import TunnelError, ssh_argv, ssh_tunnel
from provisioning import snapshot
from provisioning.apply import (
    MAX_CONCURRENCY,
    WRITES_PER_SAAS_WORKER,
    ApplyFailed,
    apply,
    default_concurrency,
    make_plan,
    progress_lines,
)
from provisioning.clients import LiteLLMAdmin, ProvisioningError, SaasAdmin
from provisioning.drift import drift
from provisioning.plan import Change
from provisioning.spec import Spec, SpecError, env_secret_checker, load_spec

REPO = Path(__file__).resolve().parent.parent
EXIT_INPUT, EXIT_FAILED, EXIT_DRIFT = 2, 1, 3


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_INPUT):
        super().__init__(message)
        self.code = code


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m provisioning", description=__doc__)
    parser.add_argument("command", choices=("plan", "apply", "drift"))
    parser.add_argument("--inventory", required=True, help="e.g. inventories/prod.py")
    parser.add_argument("--spec", help="the seed spec (YAML); required for plan and apply")
    parser.add_argument("--yes", action="store_true", help="apply without asking")
    parser.add_argument("--prune", action="store_true", help="also delete what the spec dropped")
    parser.add_argument(
        "--keys-file", help="where issued team keys go (default: secrets/<env>-team-keys.json)"
    )
    parser.add_argument("--print-keys", action="store_true", help="print issued keys instead")
    parser.add_argument(
        "--concurrency",
        type=int,
        help=f"writes in flight at once (1-{MAX_CONCURRENCY}; default "
        f"{WRITES_PER_SAAS_WORKER} per worker of the first api host's SaaS API)",
    )
    args = parser.parse_args(argv)
    if args.command != "drift" and not args.spec:
        parser.error(f"{args.command} needs --spec FILE")
    if args.concurrency is not None and not 1 <= args.concurrency <= MAX_CONCURRENCY:
        parser.error(f"--concurrency: {args.concurrency} is not between 1 and {MAX_CONCURRENCY}")
    return args


def endpoints(inventory: str) -> tuple[str, dict, dict]:
    """(environment, first llm host, first api host) as {"name", "data"}."""
    try:
        hosts = load_hosts(inventory)
    except InventoryError as error:
        raise CliError(str(error)) from None
    first = {}
    for group in ("llm", "api"):
        members = [h for h in hosts if group in h["groups"]]
        if not members:
            raise CliError(f"{inventory}: no host in the `{group}` group")
        first[group] = members[0]
        if not members[0]["data"].get("private_address"):
            raise CliError(f"{inventory}: {members[0]['name']} has no private_address")
    environment = first["llm"]["data"].get("environment")
    if not environment:
        raise CliError(f"{inventory}: `environment` is not set (group_data)")
    return environment, first["llm"], first["api"]


def concurrency_for(api: dict) -> int:
    """Sized to the SaaS API that takes every write (the first api host's, through its tunnel)."""
    workers = api["data"].get("saas_api_workers") or sizing.CLIENT_DEFAULTS["saas_api_workers"]
    return default_concurrency(int(workers))


def resolve_secrets(spec: Spec, store: dict[str, str]) -> dict[str, str]:
    """Credential name → its secret value, from the environment or the secret store."""
    return {
        c.name: os.environ[c.api_key.env] if c.api_key.env else store[c.api_key.secret]
        for c in spec.credentials
    }


def plan_table(changes: list[Change]) -> str:
    rows = [("KIND", "NAME", "ACTION", "FIELDS")] + [
        (c.kind, c.name, c.action, ", ".join(c.fields)) for c in changes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        f"{kind:<{widths[0]}}  {name:<{widths[1]}}  {action:<{widths[2]}}  {fields}".rstrip()
        for kind, name, action, fields in rows
    ]
    counts = Counter(c.action for c in changes)
    summary = ", ".join(
        f"{counts[a]} {a}" for a in ("created", "updated", "deleted", "unchanged") if counts[a]
    )
    return "\n".join(lines + [f"plan: {summary or 'nothing in the spec'}"])


def default_keys_file(environment: str) -> Path:
    """Where issued team keys go unless told otherwise (secrets/ is git-ignored)."""
    return REPO / "secrets" / f"{environment}-team-keys.json"


def write_keys(path: Path, keys: dict[str, str]) -> None:
    """Merge issued keys into a JSON file only the operator can read."""
    existing = json.loads(path.read_text()) if path.exists() else {}
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(existing | keys, out, indent=2, sort_keys=True)
    os.replace(path.with_suffix(".tmp"), path)


@contextlib.contextmanager
def services(llm: dict, api: dict, store: dict[str, str]):
    """Admin clients for LiteLLM and the SaaS API through SSH tunnels."""
    with contextlib.ExitStack() as stack:
        urls = []
        for host, port_key, default in ((llm, "litellm_port", 4000), (api, "saas_api_port", 8003)):
            *ssh, via = ssh_argv(host["name"], host["data"])
            port = int(host["data"].get(port_key) or default)
            try:
                urls.append(
                    stack.enter_context(
                        ssh_tunnel(ssh, via, host["data"]["private_address"], port, timeout=20)
                    )
                )
            except TunnelError as error:
                raise CliError(str(error), EXIT_FAILED) from None
        litellm = stack.enter_context(LiteLLMAdmin(urls[0], store["litellm_master_key"]))
        saas = stack.enter_context(SaasAdmin(urls[1], store["saas_api_master_key"]))
        yield litellm, saas


def deliver_keys(args: argparse.Namespace, environment: str, keys: dict[str, str]) -> None:
    """Issued keys reach the operator even when other writes of the same apply failed."""
    if not keys:
        return
    if args.print_keys:
        print(json.dumps(keys, indent=2, sort_keys=True))
    else:
        path = Path(args.keys_file or default_keys_file(environment))
        write_keys(path, keys)
        print(f"{len(keys)} team key(s) written to {path} (mode 0600)")


def run(args: argparse.Namespace) -> int:
    environment, llm, api = endpoints(args.inventory)
    try:
        store = SecretStore(environment).values()
    except SecretStoreError as error:
        raise CliError(str(error)) from None
    spec = None
    if args.spec:
        try:
            spec = load_spec(args.spec, env_secret_checker(store=store))
        except SpecError as error:
            raise CliError("\n".join(error.problems)) from None
    with services(llm, api, store) as (litellm, saas):
        if args.command == "drift":
            found = drift(snapshot.read(litellm, saas))
            print("\n".join(map(str, found)) or "drift: none")
            return EXIT_DRIFT if found else 0
        secrets = resolve_secrets(spec, store)
        changes = make_plan(spec, secrets, litellm, saas, prune=args.prune)
        print(plan_table(changes))
        pending = [c for c in changes if c.action != "unchanged"]
        if args.command == "plan" or not pending:
            if not pending:
                print("No change")
            return 0
        if not args.yes:
            answer = input(f"apply {len(pending)} change(s)? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                print("nothing applied")
                return 0
        concurrency = args.concurrency or concurrency_for(api)
        print(f"applying {len(pending)} change(s), up to {concurrency} at once", flush=True)
        try:
            result = apply(
                spec,
                secrets,
                changes,
                litellm,
                saas,
                concurrency=concurrency,
                progress=progress_lines(lambda line: print(line, flush=True)),
                notice=lambda message: print(message, flush=True),
            )
        except ApplyFailed as failed:
            deliver_keys(args, environment, failed.result.issued_keys)
            raise
        deliver_keys(args, environment, result.issued_keys)
        print(f"applied {len(pending)} change(s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except CliError as error:
        print(f"provisioning: {error}", file=sys.stderr)
        return error.code
    except ProvisioningError as error:
        print(f"provisioning: {error}", file=sys.stderr)
        return EXIT_FAILED
