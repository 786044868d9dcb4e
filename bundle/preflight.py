"""Checks that run on the control machine before any host is changed.

`check_inventory` checks every host's data against the schema (bundle/settings.py) and the
rules between keys, once per run and before the first operation, and lists every problem at
once: one line each naming the host, the key, its value, where the value came from, what was
expected and the remedy."""

from __future__ import annotations

import ast
import difflib
import weakref
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from bundle import litellm_release, platforms, settings
from bundle.errors import PreflightError

__all__ = ["PreflightError", "check_inventory", "inventory_problems"]

_checked: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# The edge's sites, each its own DNS name (the example's first label).
SITE_NAMES = {"edge_gateway_host": "gateway", "edge_api_host": "api", "edge_admin_host": "admin"}


def check_inventory(
    inventory,
    warn: Callable[[str], None],
    group_data: Path | None = None,
    platform_of: Callable | None = None,
):
    """Raise PreflightError listing every problem of every host; warn about keys that have no
    effect. deploy.py calls it for each host; it checks the whole inventory the first time.
    `platform_of(host)` reads what a host runs (bundle.facts.HostPlatform, over the connection
    pyinfra opened before the deploy file runs) for every host this run deploys to (all, or
    those `--limit` names); its problems are listed with the others."""
    if inventory in _checked:
        return
    problems, warnings = inventory_problems(inventory, group_data or Path.cwd() / "group_data")
    if platform_of is not None:
        problems += platforms.fleet_problems(
            list(inventory.iter_activated_hosts()), platform_of, _postgres_versions
        )
    _checked[inventory] = True
    for warning in warnings:
        warn(warning)
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise PreflightError(
            f"preflight: {count} in the inventory; no host was changed:\n" + "\n".join(problems)
        )


class _Sources:
    """Where a host's value for a key came from, as pyinfra layers host data: --data, the
    host's inventory entry, its groups (group_data/<group>.py or the inventory file's group
    data; the last group wins), group_data/all.py."""

    def __init__(self, inventory, group_data: Path):
        self.inventory = inventory
        self.group_data = group_data
        self._assigned: dict[str, set[str]] = {}

    def of(self, host, key: str) -> str:
        inventory = self.inventory
        if key in inventory.get_override_data():
            return "--data"
        if key in inventory.get_host_data(host.name):
            return f"{host.name}'s entry in the inventory file"
        for group in reversed(host.groups):
            if key in inventory.get_group_data(group):
                if key in self._file_keys(group):
                    return f"group_data/{group}.py"
                return f"the inventory file's `{group}` group"
        return "group_data/all.py"

    def _file_keys(self, group: str) -> set[str]:
        """The names group_data/<group>.py assigns at its top level."""
        if group not in self._assigned:
            path, names = self.group_data / f"{group}.py", set()
            if path.is_file():
                for node in ast.parse(path.read_text()).body:
                    if isinstance(node, ast.Assign | ast.AnnAssign):
                        targets = getattr(node, "targets", None) or [node.target]
                        names.update(t.id for t in targets if isinstance(t, ast.Name))
            self._assigned[group] = names
        return self._assigned[group]


def inventory_problems(inventory, group_data: Path) -> tuple[list[str], list[str]]:
    """(problems, warnings): each value, then the rules between a host's keys (for a host whose
    values are each good), between hosts, and the seed spec (when nothing else is wrong)."""
    sources = _Sources(inventory, group_data)
    problems: list[str] = []
    # (key, source) -> for each host it reaches, the groups of that host that read it
    unused: dict[tuple[str, str], list] = defaultdict(list)
    hosts = list(inventory.hosts.values())
    warnings: list[str] = []
    for host in hosts:
        data = host.data.dict()
        warnings += _foreign_warnings(host, data, sources)
        found = _value_problems(host, data, sources)
        for key, value in data.items():
            setting = settings.BY_KEY.get(key)
            if setting and setting.groups and value is not None:
                unused[(key, sources.of(host, key))].append(set(setting.groups) & set(host.groups))
        if not found:
            found = _rule_problems(host, settings_of(data), sources)
        problems += found
    problems += _inventory_rules(inventory, hosts)
    if not problems:
        problems += _seed_problems(hosts)
    warnings += [
        f"{key} (set in {source}) has no effect: {', '.join(settings.BY_KEY[key].groups)} "
        "hosts read it, and it reaches none of them"
        for (key, source), uses in unused.items()
        if not any(uses)
    ]
    names = [host.name for host in hosts]
    return _merged(problems, names), _merged(warnings, names)


def _postgres_versions(host) -> dict:
    return settings_of(host.data.dict())["postgres_versions"]


def settings_of(data) -> dict:
    """The host's value for every setting, its default where it has none."""
    values = {s.key: s.default for s in settings.SETTINGS}
    values.update({k: v for k, v in data.items() if k in values and v is not None})
    return values


def _line(host, key, value, source, what: str, remedy: str | None = None) -> str:
    remedy = remedy or f"fix it in {source} (or remove it for the default)"
    return f"{host.name}: {key} = {value!r} (from {source}): {what}; {remedy}"


def _value_problems(host, data: dict, sources: _Sources) -> list[str]:
    found = []
    # In the schema's order (as the README lists them), unknown keys last.
    order = {key: n for n, key in enumerate(settings.BY_KEY)}
    for key, value in sorted(data.items(), key=lambda item: order.get(item[0], len(order))):
        setting = settings.BY_KEY.get(key)
        if setting is not None:
            if not _reads(host, setting):
                continue  # warned about if no host it reaches reads it
            problem = None if value is None else setting.kind.problem(value)
            if problem:
                what = f"{problem}, expected {setting.kind.expected}"
                remedy = f"fix it in {sources.of(host, key)}" if setting.required else None
                found.append(_line(host, key, value, sources.of(host, key), what, remedy))
        elif key in settings.FIXED:
            source = sources.of(host, key)
            found.append(
                _line(
                    host,
                    key,
                    value,
                    source,
                    f"not a setting: {settings.FIXED[key]}",
                    f"remove it from {source}",
                )
            )
        elif not key.startswith(settings.FOREIGN_PREFIXES):
            hint = _mistaken_key_hint(key)
            if hint:
                source = sources.of(host, key)
                found.append(
                    _line(
                        host,
                        key,
                        value,
                        source,
                        f"unknown setting ({hint})",
                        f"rename or remove it in {source}",
                    )
                )
    for setting in settings.SETTINGS:
        if setting.required and _reads(host, setting) and data.get(setting.key) is None:
            found.append(
                f"{host.name}: {setting.key} is missing: expected {setting.kind.expected} "
                f"({setting.reason}); set it in {setting.where}"
            )
    return found


def _reads(host, setting) -> bool:
    return setting.groups is None or bool(set(setting.groups) & set(host.groups))


def _merged(lines: list[str], names: list[str]) -> list[str]:
    """One line per problem: the same problem (a value every host gets from one file) on
    several hosts names them all once."""
    hosts_of: dict[str, list[str]] = {}
    for line in lines:
        name, _, rest = line.partition(": ")
        if name in names:
            hosts_of.setdefault(rest, []).append(name)
        else:
            hosts_of.setdefault(line, [])
    return [f"{', '.join(hosts)}: {rest}" if hosts else rest for rest, hosts in hosts_of.items()]


def _mistaken_key_hint(key: str) -> str | None:
    """For an unknown key that must be a mistake for one of ours (close to a known name, or
    with our prefix), what to say; None for someone else's key."""
    nearest = difflib.get_close_matches(key, settings.BY_KEY, n=1, cutoff=0.75)
    if nearest:
        return f"did you mean {nearest[0]}?"
    return "see README, Settings" if key.startswith(settings.OUR_PREFIXES) else None


def _foreign_warnings(host, data: dict, sources: _Sources) -> list[str]:
    return [
        f"{host.name}: {key} (from {sources.of(host, key)}) is not a setting of this bundle; "
        "it is ignored"
        for key in data
        if key not in settings.BY_KEY
        and key not in settings.FIXED
        and not key.startswith(settings.FOREIGN_PREFIXES)
        and _mistaken_key_hint(key) is None
    ]


def _ports(host, values: dict) -> list[tuple[int, str, str | None]]:
    """(port, what listens there, the key that moves it) for every role on the host."""
    groups = set(host.groups)
    taken = [(values["base_ssh_port"], "SSH", "base_ssh_port")]
    if "db" in groups:
        taken.append((settings.POSTGRES_PORT, "PostgreSQL", None))
    if "cache" in groups:
        taken.append((settings.REDIS_PORT, "Redis", None))
    if "llm" in groups:
        first = values["litellm_port"]
        taken += [
            (first + n, f"LiteLLM instance {n + 1} (litellm_port + {n})", "litellm_port")
            for n in range(values["litellm_instances"])
        ]
    if "api" in groups:
        taken.append((values["saas_api_port"], "the SaaS API", "saas_api_port"))
        taken.append((values["saas_api_admin_port"], "the admin panel", "saas_api_admin_port"))
    if "edge" in groups:
        taken += [(number, "the edge", None) for number in settings.EDGE_PORTS]
    return taken


def _rule_problems(host, values: dict, sources: _Sources) -> list[str]:
    """The rules between keys on one host (their values are each valid)."""
    found = []
    seen: dict[int, tuple[str, str | None]] = {}
    for number, what, key in _ports(host, values):
        if number in seen:
            other, other_key = seen[number]
            moved = key or other_key
            remedy = f"move {moved} in {sources.of(host, moved)}" if moved else "use separate hosts"
            found.append(f"{host.name}: {what} and {other} both need port {number}; {remedy}")
        else:
            seen[number] = (what, key)
    groups = set(host.groups)
    workers, instances = values["litellm_workers"], values["litellm_instances"]
    if "llm" in groups and workers is not None and workers < instances:
        found.append(
            _line(
                host,
                "litellm_workers",
                workers,
                sources.of(host, "litellm_workers"),
                f"fewer workers than litellm_instances ({instances}): each instance needs one",
                f"raise it to at least {instances} or lower litellm_instances",
            )
        )
    if "edge" in groups:
        found += _edge_problems(host, values, sources)
    return found


def _edge_problems(host, values: dict, sources: _Sources) -> list[str]:
    found, names = [], {}
    for key in SITE_NAMES:
        name = values[key].lower()
        if name in names:
            found.append(
                _line(
                    host,
                    key,
                    values[key],
                    sources.of(host, key),
                    f"the same name as {names[name]}: the gateway, the API and the admin "
                    "panel need a name each",
                )
            )
        names[name] = key
    mode = values["edge_tls_mode"]
    if mode == "acme" and values["edge_acme_email"] is None:
        found.append(
            f"{host.name}: edge_acme_email is missing: edge_tls_mode is acme (from "
            f"{sources.of(host, 'edge_tls_mode')}), which needs a contact address; set it in "
            'group_data/<environment>.py (or edge_tls_mode = "files" with your own certificate)'
        )
    if mode == "files":
        for key in ("edge_tls_certificate", "edge_tls_key"):
            path = values[key]
            if path is None or not Path(path).expanduser().is_file():
                found.append(
                    f"{host.name}: {key} = {path!r}: edge_tls_mode is files, which needs it to "
                    "be a readable file on this machine; set it in group_data/<environment>.py"
                )
    return found


def _inventory_rules(inventory, hosts) -> list[str]:
    """The rules between hosts: one release on every llm host, an address each, the backup
    group's shape."""
    found = []
    addresses: dict[str, str] = {}
    for host in hosts:
        address = host.data.get("private_address")
        if address is not None and str(address) in addresses:
            found.append(
                f"{host.name}: private_address {address!r} is also "
                f"{addresses[str(address)]}'s; give each host its own in the inventory file"
            )
        addresses.setdefault(str(address), host.name)
    locks = {
        h.name: h.data.get("litellm_lock") or settings.BY_KEY["litellm_lock"].default
        for h in inventory.get_group("llm", [])
    }
    try:
        litellm_release.check_same_lock(locks)
    except PreflightError as error:
        found.append(str(error))
    backups, dbs = inventory.get_group("backup", []), inventory.get_group("db", [])
    if len(backups) > 1:
        found.append(
            f"inventory: the `backup` group has {len(backups)} hosts; give it exactly one (it "
            "holds the repository)"
        )
    if backups and len(dbs) != 1:
        found.append(
            f"inventory: a `backup` host needs exactly one host in `db`, the inventory has "
            f"{len(dbs)}"
        )
    found += [
        f"{host.name}: in both `db` and `backup`; a backup host exists to survive the db host: "
        "put it on another host, or drop the `backup` group to keep the repository on the db host"
        for host in backups
        if host in dbs
    ]
    return found


def _seed_problems(hosts) -> list[str]:
    """The seed spec, whole (tasks/seed.py), once per spec the api hosts name."""
    from tasks.seed import check_seed_spec  # tasks import bundle: imported when needed

    found, checked = [], set()
    for host in hosts:
        if "api" not in host.groups:
            continue
        spec = (host.data.get("seed_spec"), host.data.get("environment"))
        if spec in checked:
            continue
        checked.add(spec)
        try:
            check_seed_spec(host.data)
        except PreflightError as error:
            found.append(f"{host.name}: {error}")
    return found
