"""Bringing the dev stack up and down: the configuration volumes, the published ports, `docker
compose` and the wait for every service's healthcheck (docker SDK)."""

from __future__ import annotations

import errno
import hashlib
import io
import socket
import subprocess
import tarfile
import time

import docker.errors

from compose.render import COMPOSE_FILE, REPO_ROOT, ConfigVolume, volume_name

PORT_SETTINGS = {
    "litellm": "dev_litellm_port",
    "saas-api": "dev_saas_api_port",
    "admin": "dev_admin_port",
}


class StackError(Exception):
    pass


def project_containers(client, project: str, *, all_states: bool = True) -> list:
    return client.containers.list(
        all=all_states, filters={"label": f"com.docker.compose.project={project}"}
    )


def project_volumes(client, project: str) -> list:
    return client.volumes.list(filters={"label": f"com.docker.compose.project={project}"})


def check_ports(client, settings) -> None:
    """Each published port is free, or already ours: nothing starts when one is taken."""
    ours = set()
    for container in project_containers(client, settings["dev_project"], all_states=False):
        for bindings in (container.attrs["HostConfig"].get("PortBindings") or {}).values():
            ours |= {int(b["HostPort"]) for b in bindings or []}
    for service, key in PORT_SETTINGS.items():
        port = settings[key]
        if port in ours:
            continue
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as error:
                if error.errno != errno.EADDRINUSE:
                    raise
                raise StackError(
                    f"port {port} on 127.0.0.1 ({service}) is taken by another program: stop it, "
                    f"or set {key} in group_data/dev.py to a free port"
                ) from None


DATA_VOLUME = "postgres-data"
SALT_LABEL = "org.gateway-bundle.salt-key-digest"


def claim_database_volume(client, project: str, salt_key: str) -> None:
    """The database volume belongs to this secret store: LiteLLM keeps provider credentials in
    it encrypted with the store's salt key, so another store (another checkout's
    secrets/dev.age) must never start on it. The volume is made here, labelled with a digest of
    the key (never the key), before Compose would make it unlabelled."""
    digest = hashlib.sha256(b"gateway-dev volume\0" + salt_key.encode()).hexdigest()[:16]
    name = f"{project}_{DATA_VOLUME}"
    try:
        volume = client.volumes.get(name)
    except docker.errors.NotFound:
        client.volumes.create(
            name,
            labels={
                "com.docker.compose.project": project,
                "com.docker.compose.volume": DATA_VOLUME,
                SALT_LABEL: digest,
            },
        )
        return
    if (volume.attrs.get("Labels") or {}).get(SALT_LABEL) != digest:
        raise StackError(
            f"volume {name} holds a database made with another secret store's salt key (another "
            "checkout's secrets/dev.age?): its provider credentials cannot be decrypted with "
            "this one. `make dev-purge` starts afresh (that data is lost), or set dev_project "
            "in group_data/dev.py to keep both stacks"
        )


def write_config_volumes(client, project: str, base: str, volumes: list[ConfigVolume]) -> None:
    """Each service's files into its configuration volume, through a container that never
    starts: owners and modes are set in the archive, and no secret touches this disk."""
    mounts = {}
    for volume in volumes:
        name = volume_name(project, volume.service)
        try:
            client.volumes.get(name)
        except docker.errors.NotFound:
            # Labelled as Compose labels its own, so `down --volumes` removes it with the rest.
            client.volumes.create(
                name,
                labels={
                    "com.docker.compose.project": project,
                    "com.docker.compose.volume": f"{volume.service}-etc",
                },
            )
        mounts[name] = {"bind": f"/volumes/{volume.service}", "mode": "rw"}
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for volume in volumes:
            for path, file in sorted(volume.files.items()):
                if "/" in path:  # conf.d/...: the directory first, owned like its file
                    directory = f"{volume.service}/{path.rsplit('/', 1)[0]}"
                    tar.addfile(_entry(directory, file, tarfile.DIRTYPE, 0o755))
                data = file.content.encode()
                tar.addfile(
                    _entry(f"{volume.service}/{path}", file, size=len(data)), io.BytesIO(data)
                )
    writer = client.containers.create(
        base,
        command=["true"],
        volumes=mounts,
        network_disabled=True,
        labels={"org.gateway-bundle.writer": project},
    )
    try:
        writer.put_archive("/volumes", archive.getvalue())
    finally:
        writer.remove(force=True)


def _entry(name: str, file, kind=tarfile.REGTYPE, mode: int | None = None, size: int = 0):
    info = tarfile.TarInfo(name)
    info.type, info.uid, info.gid, info.size = kind, file.uid, file.gid, size
    info.mode = file.mode if mode is None else mode
    return info


def compose(command: list[str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [*command, "--file", str(COMPOSE_FILE), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and done.returncode != 0:
        raise StackError(f"docker compose {' '.join(args)} failed:\n{done.stderr.strip()[-3000:]}")
    return done


def up(command: list[str]) -> list[str]:
    """`up -d`; returns Compose's lines about what it created, recreated or started."""
    done = compose(command, "up", "--detach", "--remove-orphans")
    return [
        line.strip()
        for line in done.stderr.splitlines()
        if any(word in line for word in ("Created", "Recreated", "Started", "Removed"))
    ]


def wait_healthy(client, project: str, services: list[str], timeout: int) -> None:
    """Every service's container healthy, each reported as its state changes. A container that
    exits or turns unhealthy stops the wait with its log's tail."""
    started, healthy, last = time.monotonic(), set(), {}
    while len(healthy) < len(services):
        for container in project_containers(client, project):
            service = container.labels.get("com.docker.compose.service")
            if service not in services or service in healthy:
                continue
            state = container.attrs["State"]
            status = state.get("Health", {}).get("Status") or state["Status"]
            if status != last.get(service):
                print(f"    {service}: {status}", flush=True)
                last[service] = status
            if status == "healthy":
                healthy.add(service)
            elif status in ("unhealthy", "exited", "dead"):
                tail = container.logs(tail=25).decode(errors="replace")
                raise StackError(f"{service} is {status}; its log ends:\n{tail}")
        if time.monotonic() - started > timeout:
            waiting = sorted(set(services) - healthy)
            raise StackError(
                f"not healthy after {timeout} s: {', '.join(waiting)} (dev_health_timeout in "
                f"group_data/dev.py; `docker logs {project}-{waiting[0]}-1`)"
            )
        time.sleep(1)


def remove_leftovers(client, project: str) -> list[str]:
    """Whatever of the project Compose's `down` did not remove (or a checkout without its
    compose file left): containers, networks and volumes carrying the project's label."""
    label = {"label": f"com.docker.compose.project={project}"}
    removed = []
    for container in client.containers.list(all=True, filters=label):
        container.remove(force=True)
        removed.append(f"container {container.name}")
    for network in client.networks.list(filters=label):
        network.remove()
        removed.append(f"network {network.name}")
    for volume in client.volumes.list(filters=label):
        volume.remove(force=True)
        removed.append(f"volume {volume.name}")
    return removed
