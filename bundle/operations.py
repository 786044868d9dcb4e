"""Operations pyinfra does not ship: rendered files, and files validated before they go live."""

from __future__ import annotations

import hashlib
import posixpath
from io import BytesIO, StringIO

from pyinfra import host
from pyinfra.api import FileUploadCommand, HiddenValue, StringCommand, operation
from pyinfra.facts.files import File, Sha1File
from pyinfra.operations import files, server, systemd
from pyinfra.operations.util import any_changed

from bundle.install_steps import release_steps, venv_steps
from bundle.render import render


@operation()
def validated_file(
    content: str,
    dest: str,
    validate: str,
    mode: str = "644",
    user: str = "root",
    group: str = "root",
    keep_previous: bool = False,
):
    """
    Install ``content`` at ``dest`` only if ``validate`` accepts it first.

    + validate: shell command run against the candidate; ``{path}`` is replaced by its path.
      A config that fails validation never replaces the live file, so the service keeps running
      on the last good one and a later restart cannot pick up a broken file. The command's own
      message (the service's parser) is what the deploy shows.
    + keep_previous: keep the live file as ``.<name>.previous`` (`previous_path`) until the
      restart that reads the new one succeeded (`running_service(restore=...)`).
    """
    data = content.encode()
    current_sha1 = host.get_fact(Sha1File, path=dest)
    current = host.get_fact(File, path=dest)
    if current_sha1 == hashlib.sha1(data).hexdigest():  # noqa: S324 - pyinfra's own file digest
        # pyinfra's File fact spells mode 0644 as the integer 644.
        if current and (current["user"], current["group"], str(current["mode"])) == (
            user,
            group,
            mode.lstrip("0"),
        ):
            host.noop(f"{dest} is up to date")
            return
        yield StringCommand("chown", f"{user}:{group}", dest)
        yield StringCommand("chmod", mode, dest)
        return
    # The candidate sits next to the live file (same filesystem: the final mv is atomic) under a
    # name no `*.conf`/`*.nft` include pattern matches.
    candidate = posixpath.join(posixpath.dirname(dest), f".{posixpath.basename(dest)}.candidate")
    yield StringCommand("mkdir", "-p", posixpath.dirname(dest))
    yield FileUploadCommand(BytesIO(data), candidate)
    yield StringCommand("chown", f"{user}:{group}", candidate)
    yield StringCommand("chmod", mode, candidate)
    # A newline before the closing parenthesis: a validator may end in a here-document.
    yield StringCommand(
        f"( {validate.format(path=candidate)}\n) || {{ rm -f {candidate}; exit 1; }}"
    )
    if keep_previous:
        yield StringCommand(f"if [ -e {dest} ]; then cp -p {dest} {previous_path(dest)}; fi")
    yield StringCommand("mv", "-f", candidate, dest)


# systemd's own check of a candidate unit, under the unit's name in a scratch directory: it fails
# on an error, and on any warning about this unit (an unknown key is only a warning to systemd,
# and a unit running without the setting it was written for is not what the deploy meant).
UNIT_CHECK = (
    "d=$(mktemp -d) && cp {path} $d/NAME && "
    "out=$(systemd-analyze verify --man=no $d/NAME 2>&1); rc=$?; rm -rf $d; "
    "if [ $rc -ne 0 ]; then printf '%s\\n' \"$out\" >&2; exit 1; fi; "
    "if printf '%s\\n' \"$out\" | grep -F NAME >&2; then exit 1; fi"
)


def unit_file(template: str, dest: str, **context):
    """The systemd unit `dest` rendered from `template`, live only once systemd-analyze verify
    accepted it."""
    return checked_unit(render(template, **context), dest)


def checked_unit(text: str, dest: str):
    return validated_file(
        name=f"Render {dest} (checked by systemd-analyze)",
        content=text,
        dest=dest,
        validate=UNIT_CHECK.replace("NAME", posixpath.basename(dest)),
    )


def previous_path(dest: str) -> str:
    return posixpath.join(posixpath.dirname(dest), f".{posixpath.basename(dest)}.previous")


def rendered_file(
    template: str,
    dest: str,
    *,
    name: str | None = None,
    mode: str = "644",
    user: str = "root",
    group: str = "root",
    **context,
):
    """Render `template` (templates/…) with `context` and put it at `dest` ("Render <dest>")."""
    return files.put(
        name=name or f"Render {dest}",
        src=StringIO(render(template, **context)),
        dest=dest,
        mode=mode,
        user=user,
        group=group,
    )


@operation()
def postgres_login_role(role: str, password: HiddenValue, database: str):
    """
    A login role without superuser rights, owning `database`, that only it may connect to.

    The password goes to the host only as its SCRAM verifier, inside a root-only file fed to
    psql on standard input: never in argv, never in output. A stored verifier that already
    matches the password is left alone.
    """
    from bundle import scram
    from bundle.facts import PostgresDatabases, PostgresRoles

    password = password.unmask()
    roles = host.get_fact(PostgresRoles)
    databases = host.get_fact(PostgresDatabases)
    statements = []
    current = roles.get(role)
    if current is None:
        statements.append(
            f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
            f"PASSWORD '{scram.verifier(password)}';"
        )
    else:
        if current["superuser"] or not current["login"]:
            statements.append(f"ALTER ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;")
        if not scram.matches(password, current["verifier"]):
            statements.append(f"ALTER ROLE {role} PASSWORD '{scram.verifier(password)}';")
    db = databases.get(database)
    if db is None:
        statements.append(f"CREATE DATABASE {database} OWNER {role};")
        statements.append(f"REVOKE CONNECT ON DATABASE {database} FROM PUBLIC;")
    else:
        if db["owner"] != role:
            statements.append(f"ALTER DATABASE {database} OWNER TO {role};")
        if db["public_connect"]:
            statements.append(f"REVOKE CONNECT ON DATABASE {database} FROM PUBLIC;")
    if not statements:
        host.noop(f"role {role} owns database {database} and its password is current")
        return
    script = f"/run/gateway-bundle/{role}-role.sql"
    yield StringCommand("install", "-d", "-m", "700", "/run/gateway-bundle")
    yield FileUploadCommand(BytesIO(("\n".join(statements) + "\n").encode()), script)
    yield StringCommand("chmod", "600", script)
    # CREATE DATABASE cannot run inside a transaction block: psql runs statement by statement.
    yield StringCommand(
        f"runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 < {script}; "
        f"rc=$?; rm -f {script}; exit $rc"
    )


@operation()
def venv_from_wheelhouse(tar: str, root: str, artifact: str):
    """
    `<root>/venv` holding exactly the wheels of the pushed wheelhouse `tar`, installed with
    `--no-index --require-hashes` (hosts never reach a package index).

    Each wheelhouse gets its own venv, `<root>/venvs/<artifact>`, built at its final path (a
    venv's scripts name their interpreter by path); `<root>/venv` is a symlink switched
    atomically once the new venv is complete, so a reader never sees a half-installed one.
    The previous venv is kept (older ones are removed) and switching back to it reinstalls
    nothing. An unchanged wheelhouse is "No change".
    """
    from bundle.facts import FileText

    link, target = f"{root}/venv", f"{root}/venvs/{artifact}"
    if host.get_fact(FileText, path=f"{link}/.gateway-artifact") == artifact:
        host.noop(f"{link} holds {artifact}")
        return
    # The marker is written once the venv is complete: a kept one (the release before the last
    # switch) is switched back to as it is, a rollback without a reinstall.
    if host.get_fact(FileText, path=f"{target}/.gateway-artifact") != artifact:
        for step in venv_steps(tar, root, artifact):
            yield StringCommand(step)
    yield from _switch_link(link, target, f"{root}/venvs", artifact)


@operation()
def release_from_tar(tar: str, releases: str, link: str, release: str):
    """
    `link` pointing at `<releases>/<release>`, unpacked from the pushed `tar`; the link is
    switched atomically once the release is complete. The previous release is kept (a running
    process may still read it until its restart, and a rollback switches back to it without
    unpacking); older ones are removed. An unchanged release is "No change".
    """
    from bundle.facts import FileText

    target = f"{releases}/{release}"
    if host.get_fact(FileText, path=f"{link}/.gateway-release") == release:
        host.noop(f"{link} holds {release}")
        return
    if host.get_fact(FileText, path=f"{target}/.gateway-release") != release:
        for step in release_steps(tar, releases, release):
            yield StringCommand(step)
    yield from _switch_link(link, target, releases, release)


def _switch_link(link: str, target: str, releases: str, keep: str):
    """Point `link` at `target` atomically; keep `keep` and the release `link` pointed at before,
    remove the rest."""
    yield StringCommand(
        f'previous=$(basename "$(readlink {link} || true)"); '
        f"ln -sfn {target} {link}.new && mv -T {link}.new {link} && "
        f'find {releases} -mindepth 1 -maxdepth 1 ! -name {keep} ! -name "$previous" '
        "! -name '.*' -exec rm -rf {} +"
    )


def running_service(
    unit: str, label: str, *, restart_when=(), reload_when=(), restore=(), log_tail=None
):
    """Keep `unit` started and enabled; restart it (or reload it) only when one of the given
    operations changed something it reads. Restarts also follow a package's own first start,
    which ran on the package's default configuration. Returns the start and restart operations
    (the latter None without `restart_when`), for steps that follow either.

    `restore`: the files written with `validated_file(keep_previous=True)`. Should the service
    not come back on them, the previous files are put back, the service restarted on them and
    the deploy fails with the journal's tail (and `log_tail`, a log file's, where the service
    writes its own)."""
    started = systemd.service(
        name=f"Start and enable {label}", service=unit, running=True, enabled=True
    )
    restarted = None
    if restart_when and restore:
        restarted = server.shell(
            name=f"Restart {label} to load new settings (the previous ones back if it fails)",
            commands=[restart_or_restore(unit, label, restore, log_tail)],
            _if=any_changed(*restart_when),
        )
    elif restart_when:
        restarted = systemd.service(
            name=f"Restart {label} to load new settings",
            service=unit,
            restarted=True,
            _if=any_changed(*restart_when),
        )
    if reload_when:
        systemd.service(
            name=f"Reload {label} to load new settings",
            service=unit,
            reloaded=True,
            _if=any_changed(*reload_when),
        )
    return started, restarted


def restart_or_restore(unit: str, label: str, files: tuple | list, log_tail=None) -> str:
    """Restart `unit`; if it does not come back (or dies within a second), put each file's
    `.previous` copy back, restart on those and fail with the journal since the restart."""
    previous = [previous_path(path) for path in files]
    restore = "; ".join(
        f'if [ -e {kept} ]; then mv -f {kept} {path}; restored="$restored {path}"; fi'
        for kept, path in zip(previous, files, strict=True)
    )
    # What the failed start wrote first: the journal (and the service's own log) since then.
    logs = f'journalctl -u {unit} --since "$since" --no-pager -q | head -n 40 >&2'
    size = ""
    if log_tail:
        size = f"size=$(stat -c %s {log_tail} 2>/dev/null || echo 0); "
        logs += f"; tail -c +$((size + 1)) {log_tail} | head -n 40 >&2"
    return (
        f"since=$(date '+%Y-%m-%d %H:%M:%S'); {size}"
        f"if systemctl restart {unit} && sleep 1 && systemctl is-active --quiet {unit}; then "
        f"rm -f {' '.join(previous)}; exit 0; fi; "
        f'restored=""; {restore}; '
        f"systemctl restart {unit}; state=$(systemctl is-active {unit}); "
        f'echo "{label} did not come back on its new settings; put back the previous'
        f'${{restored:- (none kept)}} and restarted {unit} on them: $state. Its log since:" >&2; '
        f"{logs}; exit 1"
    )


def applied_sysctls(template: str, dest: str, *, label: str, kernel_global: bool):
    """Render sysctl settings to `dest` and load them when they changed. Kernel-global settings
    are skipped inside a container, where they belong to the container host's kernel."""
    from bundle.facts import ContainerType

    container = host.get_fact(ContainerType) if kernel_global else None
    if container:
        host.noop(f"skip {label}: inside a {container} container they belong to the host's kernel")
        return
    conf = rendered_file(template, dest)
    server.shell(
        name=f"Apply {label}",
        commands=[f"sysctl --quiet --load={dest}"],
        _if=conf.did_change,
    )


@operation()
def tier_done(tier: str):
    """
    A point every host reaches before any host goes past it. pyinfra orders operations by each
    host's own sequence only (a topological merge): hosts running different deploys interleave
    freely, so an api host's migration could run before the db host opened its firewall. Called
    from one line of deploy.py for every host, this operation is one node shared by all of
    them, and everything before it on any host runs first. It changes nothing.
    """
    host.noop(f"every host has finished the {tier}")
    yield from ()  # an operation is a generator of commands; this one has none


def wait_ready_script(path: str, **script):
    """The service's wait-ready script at `path` (templates/shared/wait-ready.py.j2 with
    `script`: task, label, instances {name: {unit, url}}, key, value, timeout). Run without
    arguments it waits for every instance, with names for those only."""
    return rendered_file("shared/wait-ready.py.j2", path, mode="755", **script)


def readiness_gate(path: str, *, wait_name: str, when: tuple, unit: str, url: str, **script):
    """A single-instance service's wait-ready script, run only when `when` (its start or
    restart operations) changed something."""
    wait_ready_script(path, instances={unit: {"unit": unit, "url": url}}, **script)
    server.shell(name=wait_name, commands=[path], _if=any_changed(*when))
