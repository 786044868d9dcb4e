"""The dev stack's images, built locally (docker SDK, classic builder) on the Debian base from the
deploy's own pinned artifacts and install steps. Each image's tag is the digest of everything
that goes into it (base image, Dockerfile, files, artifact names, which carry their own lock
digests): an unchanged set is found by its tag and nothing is rebuilt."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import docker.errors

from bundle import artifacts, litellm_layout
from bundle.facts import HostPlatform
from bundle.install_steps import release_steps, venv_steps
from bundle.platforms import Target, platform_problem, target_of
from bundle.render import render
from tasks.postgres import DEFAULTS as POSTGRES_DEFAULTS

FILES = Path(__file__).resolve().parent / "image-files"
FAKE_PROVIDER = Path(__file__).resolve().parent.parent / "tests" / "fakes" / "fake_provider.py"
SAAS_API_ROOT = "/opt/saas-api"
LABEL = "org.gateway-bundle.inputs"
STAGE_LABEL = "org.gateway-bundle.build-stage"
# Images are artifacts, not a stack's state: every project (and checkout) shares them.
REPOSITORY = "gateway-dev"


@dataclass(frozen=True)
class ServiceUser:
    """The non-root user a service runs as, with a fixed uid (its secret files' owner)."""

    name: str
    uid: int
    home: str


USERS = {
    "postgres": ServiceUser("postgres", 901, "/var/lib/postgresql"),
    "redis": ServiceUser("redis", 902, "/var/lib/redis"),
    "litellm": ServiceUser("litellm", 903, "/var/lib/litellm"),
    "saas-api": ServiceUser("saas-api", 904, "/var/lib/saas-api"),
    "fake-provider": ServiceUser("fake-provider", 905, "/nonexistent"),
}


class ImageError(Exception):
    pass


def postgres_version(suite: str) -> int:
    return POSTGRES_DEFAULTS["postgres_versions"][suite]


def image_target(client, base: str) -> Target:
    """The Python, glibc and machine of the base image, read from it as the deploy reads a host
    (a slim base has no python3 yet: its apt candidate, after `apt-get update`), once per base
    image."""
    base_id = client.images.get(base).id
    cached = artifacts.cache_dir() / "compose" / f"target-{base_id.split(':')[-1][:16]}.json"
    if cached.exists():
        return Target(**json.loads(cached.read_text()))
    probe = f"apt-get update -qq >/dev/null 2>&1; {HostPlatform().command()}"
    output = client.containers.run(base, ["sh", "-c", probe], remove=True, network_mode="host")
    found = HostPlatform().process(output.decode().splitlines())
    problem = platform_problem(f"the base image {base}", found)
    if problem:
        raise ImageError(f"{problem} (dev_base_image in group_data/dev.py)")
    target = target_of(found)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(dataclasses.asdict(target)) + "\n")
    return target


def contexts(base: str, suite: str, target: Target) -> dict[str, tuple[str, dict[str, Path]]]:
    """service -> (Dockerfile text, {name in the build context: file})."""
    common = {"base": base}
    user = lambda service: {  # noqa: E731
        "user": USERS[service].name,
        "uid": USERS[service].uid,
        "home": USERS[service].home,
    }
    engine, venv = artifacts.engine_name(), artifacts.venv_name("litellm", None, target)
    root = litellm_layout.ROOT
    litellm_install = (
        release_steps("/tmp/artifacts/litellm-engine.tar", f"{root}/engines", engine)
        + [f"ln -sfn {root}/engines/{engine} {litellm_layout.ENGINE}"]
        + venv_steps("/tmp/artifacts/litellm-wheelhouse.tar", root, venv)
        + [f"ln -sfn {root}/venvs/{venv} {litellm_layout.VENV}"]
        + [litellm_layout.prisma_generate_command("bundled", target.site_packages)]
        + [f"echo {venv}+{engine}+bundled > {litellm_layout.VENV}/.prisma-generated"]
    )
    saas = artifacts.saas_api_name(target)
    saas_install = venv_steps("/tmp/artifacts/saas-api-wheelhouse.tar", SAAS_API_ROOT, saas) + [
        f"ln -sfn {SAAS_API_ROOT}/venvs/{saas} {SAAS_API_ROOT}/venv"
    ]
    litellm_env = litellm_layout.OFFLINE_ENV | litellm_layout.prisma_environment("bundled")
    return {
        "postgres": (
            render(
                "compose/postgres.Dockerfile.j2",
                **common,
                **user("postgres"),
                version=postgres_version(suite),
            ),
            {"start-postgres": FILES / "start-postgres"},
        ),
        "redis": (render("compose/redis.Dockerfile.j2", **common, **user("redis")), {}),
        "litellm": (
            render(
                "compose/litellm.Dockerfile.j2",
                **common,
                **user("litellm"),
                root=root,
                install=litellm_install,
                environment=litellm_env
                | {
                    "HOME": USERS["litellm"].home,
                    "PATH": f"{litellm_layout.VENV}/bin:/usr/bin:/bin",
                },
            ),
            {
                "litellm-engine.tar": artifacts.engine_tar(),
                "litellm-wheelhouse.tar": artifacts.bundle_tar("litellm", None, target),
                **{name: FILES / name for name in ("with-env", "healthcheck", "start-litellm")},
            },
        ),
        "saas-api": (
            render(
                "compose/saas-api.Dockerfile.j2",
                **common,
                **user("saas-api"),
                root=SAAS_API_ROOT,
                install=saas_install,
                environment={
                    "HOME": USERS["saas-api"].home,
                    "PATH": f"{SAAS_API_ROOT}/venv/bin:/usr/bin:/bin",
                    # The mounted source tree shadows the installed wheel (the dev loop).
                    "PYTHONPATH": "/src",
                    "PYTHONDONTWRITEBYTECODE": "1",
                },
            ),
            {
                "saas-api-wheelhouse.tar": artifacts.saas_api_tar(target),
                **{name: FILES / name for name in ("with-env", "healthcheck", "start-saas-api")},
            },
        ),
        "fake-provider": (
            render("compose/fake-provider.Dockerfile.j2", **common, **user("fake-provider")),
            {"fake_provider.py": FAKE_PROVIDER, "healthcheck": FILES / "healthcheck"},
        ),
    }


def inputs_digest(base_id: str, dockerfile: str, files: dict[str, Path]) -> str:
    digest = hashlib.sha256(base_id.encode() + b"\0" + dockerfile.encode())
    for name, path in sorted(files.items()):
        # Artifact tars are named by their own digests; small files are hashed.
        content = path.name.encode() if path.suffix == ".tar" else path.read_bytes()
        digest.update(
            b"\0"
            + name.encode()
            + b"\0"
            + content
            + b"\0"
            + oct(path.stat().st_mode & 0o777).encode()
        )
    return digest.hexdigest()[:16]


def ensure_all(client, base: str, suite: str, services: list[str]) -> dict[str, str]:
    """service -> image tag, building only what is missing."""
    base_id = client.images.get(base).id
    tags = {}
    for service, (dockerfile, files) in contexts(base, suite, image_target(client, base)).items():
        if service not in services:
            continue
        tag = f"{REPOSITORY}/{service}:{inputs_digest(base_id, dockerfile, files)}"
        tags[service] = tag
        try:
            client.images.get(tag)
            continue
        except docker.errors.ImageNotFound:
            pass
        _build(client, service, tag, dockerfile, files)
    return tags


def _build(client, service: str, tag: str, dockerfile: str, files: dict[str, Path]) -> None:
    started = time.monotonic()
    print(f"==> building image {tag}", flush=True)
    context = artifacts.cache_dir() / "dev-build" / f"{service}-{os.getpid()}"
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir(parents=True)
    try:
        (context / "Dockerfile").write_text(dockerfile)
        for name, path in files.items():
            try:
                os.link(path, context / name)  # the tars are large: no copy
            except OSError:
                shutil.copy2(path, context / name)
        log = []
        # The engine may have no outbound NAT (ours runs without iptables): builds use the
        # host's network, and apt the base image's sources.
        for chunk in client.api.build(
            path=str(context),
            tag=tag,
            network_mode="host",
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            labels={LABEL: tag.rsplit(":", 1)[1]},
        ):
            if "error" in chunk:
                raise ImageError(
                    f"building {tag} failed: {chunk['error'].strip()}\n" + "".join(log[-15:])
                )
            line = chunk.get("stream", "")
            log.append(line)
            if line.startswith("Step "):
                print(f"    {service}: {line.strip()[:110]}", flush=True)
    finally:
        shutil.rmtree(context, ignore_errors=True)
    # The install stage's image holds the artifact tars (hundreds of MB) and is needed by nothing.
    client.images.prune(filters={"dangling": True, "label": f"{STAGE_LABEL}=install"})
    size = client.images.get(tag).attrs["Size"] / 1e6
    print(f"    {tag}: {size:.0f} MB in {time.monotonic() - started:.0f} s", flush=True)


def remove_superseded(client, tags: dict[str, str]) -> list[str]:
    """Earlier builds of these services' images (an artifact changed since): removed once no
    container uses them; one still in use (another project's stack) is left alone."""
    current = set(tags.values())
    removed = []
    for service in tags:
        for image in client.images.list(name=f"{REPOSITORY}/{service}"):
            old = [tag for tag in image.tags if tag not in current]
            if not old or set(image.tags) & current:
                continue
            try:
                for tag in old:
                    client.images.remove(tag)
                removed += old
            except docker.errors.APIError:  # in use by a container
                continue
    return removed
