"""`make dev`: the whole stack on this machine with Docker Compose, then the setup guide's checks.

Steps (each says what it does; a bad setting, a missing engine or a taken port stops it before
anything starts):
1. the dev settings (group_data/dev.py) and the `dev` secret store (made once, reused);
2. a Docker engine (the running one; on a Debian machine without one, started here) and Compose v2;
3. the images, from the deploy's own artifacts, built only when their inputs changed;
4. the files the services read, rendered from the deploy's templates; secrets into the
   `secrets` volume; `docker compose up`; the wait for every healthcheck;
5. examples/seed.yaml applied through localhost (credentials pointed at the fake provider);
6. the guide's "Step 4: Test End-to-End" on localhost as written: the team with X-Admin-Key, a
   chat completion with the team's virtual key;
7. where everything is.
`python scripts/dev.py down` stops the stack (volumes kept), `purge` removes its containers,
network and volumes."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import docker.errors

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bundle.guide_curl import CurlError, curl_json  # noqa: E402
from bundle.secret_store import SecretStore, SecretStoreError  # noqa: E402
from compose import base_image, engine, images, render, settings, stack  # noqa: E402
from provisioning.apply import apply, make_plan  # noqa: E402
from provisioning.cli import default_keys_file, plan_table, resolve_secrets, write_keys  # noqa: E402
from provisioning.clients import LiteLLMAdmin, ProvisioningError, SaasAdmin  # noqa: E402
from provisioning.spec import SpecError, env_secret_checker, load_spec  # noqa: E402
from tests.fakes.seed_spec import write_for_fake_provider  # noqa: E402

ENVIRONMENT = "dev"
# The fake provider accepts any key; the credentials still need one (LiteLLM sends it).
FAKE_PROVIDER_KEY_ENV = "DEV_FAKE_PROVIDER_KEY"
KEYS_FILE = default_keys_file(ENVIRONMENT)
EXIT_INPUT = 2


class DevError(Exception):
    pass


def step(text: str) -> None:
    print(f"==> {text}", flush=True)


def seed_spec_file(config) -> Path:
    """The dev seed spec; with the fake provider, every credential points at it."""
    path = REPO / config["dev_seed_spec"]
    if not config["dev_fake_provider"]:
        return path
    provider = f"http://fake-provider:{render.FAKE_PROVIDER_PORT}/v1"
    return write_for_fake_provider(
        path, provider, FAKE_PROVIDER_KEY_ENV, render.RENDERED / "seed.yaml"
    )


def curl(url: str, headers: dict[str, str], body: dict | None = None) -> dict:
    try:
        return curl_json(url, headers, body)
    except CurlError as error:
        raise DevError(str(error)) from None


def up() -> int:
    started = time.monotonic()
    step("dev settings (group_data/dev.py), the dev secret store, the seed spec")
    config = settings.load()
    try:
        secrets = SecretStore(ENVIRONMENT).ensure()
    except SecretStoreError as error:
        raise DevError(str(error)) from None
    spec = load_seed_spec(config, secrets)
    step("Docker engine and Compose v2")
    client = engine.client()
    compose = engine.compose_command()
    print(f"    engine {client.version()['Version']} at {os.environ['DOCKER_HOST']}", flush=True)
    stack.check_ports(client, config)

    step("images (built only when their inputs changed)")
    services = ["postgres", "redis", "litellm", "saas-api"]
    services += ["fake-provider"] if config["dev_fake_provider"] else []
    base = base_image.ensure(client, config)
    tags = images.ensure_all(client, base, config["dev_suite"], services)
    for service in services:
        print(f"    {service:<14} {tags[service]}", flush=True)

    step("configuration volumes (the deploy's templates), docker compose up")
    rendered = render.render_stack(config, tags, secrets, REPO / "saas_api" / "src")
    stack.claim_database_volume(client, config["dev_project"], secrets["litellm_salt_key"])
    render.write(rendered)
    stack.write_config_volumes(client, config["dev_project"], base, rendered.volumes)
    up_started = time.monotonic()
    changes = stack.up(compose)
    print("    " + ("\n    ".join(changes) if changes else "nothing to create or start"))
    # The admin panel runs the SaaS API's image: no image of its own.
    running = services + ["admin"]
    stack.wait_healthy(client, config["dev_project"], running, config["dev_health_timeout"])
    up_to_healthy = time.monotonic() - up_started
    print(f"    every service healthy {up_to_healthy:.0f} s after up", flush=True)
    for tag in images.remove_superseded(client, tags):
        print(f"    removed the superseded image {tag}", flush=True)

    urls = Urls(
        f"http://localhost:{config['dev_litellm_port']}",
        f"http://localhost:{config['dev_saas_api_port']}",
        f"http://localhost:{config['dev_admin_port']}",
    )
    step(f"seed {config['dev_seed_spec']} through localhost")
    seed(spec, secrets, urls)
    step("the guide's Step 4: Test End-to-End, on localhost")
    step_4(spec, secrets, urls)
    print(summary(config, urls))
    print(
        f"make dev: {time.monotonic() - started:.0f} s (up to every service healthy "
        f"{up_to_healthy:.0f} s)",
        file=sys.stderr,
    )
    return 0


@dataclass(frozen=True)
class Urls:
    litellm: str
    saas_api: str
    admin: str


def load_seed_spec(config, secrets: dict[str, str]):
    """The seed spec, checked whole before anything starts (its provider keys included)."""
    os.environ.setdefault(FAKE_PROVIDER_KEY_ENV, "sk-dev-fake-provider")
    try:
        return load_spec(seed_spec_file(config), env_secret_checker(store=secrets))
    except SpecError as error:
        raise DevError("\n".join(error.problems)) from None


def seed(spec, secrets: dict[str, str], urls: Urls) -> None:
    """Plan, then apply what differs (as `python -m provisioning apply`, through localhost)."""
    with (
        LiteLLMAdmin(urls.litellm, secrets["litellm_master_key"]) as litellm,
        SaasAdmin(urls.saas_api, secrets["saas_api_master_key"]) as saas,
    ):
        credentials = resolve_secrets(spec, secrets)
        changes = make_plan(spec, credentials, litellm, saas)
        print("    " + plan_table(changes).replace("\n", "\n    "), flush=True)
        pending = [c for c in changes if c.action != "unchanged"]
        if not pending:
            print("    No change", flush=True)
            return
        result = apply(
            spec,
            credentials,
            changes,
            litellm,
            saas,
            notice=lambda message: print(f"    {message}", flush=True),
            model_reload_seconds=0,  # one LiteLLM process: it sees its own writes
        )
        if result.issued_keys:
            write_keys(KEYS_FILE, result.issued_keys)
        print(f"    applied {len(pending)} change(s)", flush=True)


def step_4(spec, secrets: dict[str, str], urls: Urls) -> None:
    """The team's info with the admin key, then a chat completion with its virtual key."""
    team_id = spec.teams[0].id
    team_url = f"{urls.saas_api}/api/teams/{team_id}"
    team = curl(team_url, {"X-Admin-Key": secrets["saas_api_master_key"]})
    print(f"    GET {team_url}: {team['name']}, status {team['status']}")
    model = spec.model_groups[0].models[0]
    answer = curl(
        f"{urls.litellm}/chat/completions",
        {"Authorization": f"Bearer {team['virtual_key']}"},
        {"model": model, "messages": [{"role": "user", "content": "Hello!"}]},
    )
    reply = answer["choices"][0]["message"]["content"]
    print(f"    POST {urls.litellm}/chat/completions ({model}): {reply!r}")


def summary(config, urls: Urls) -> str:
    get = f".venv/bin/python -m bundle.secrets get {ENVIRONMENT}"
    return f"""
The dev stack is up (project {config["dev_project"]}, engine {os.environ["DOCKER_HOST"]}):
  LiteLLM (teams' apps)  {urls.litellm}
  LiteLLM UI             {urls.litellm}/ui  (user "admin", password: the LiteLLM master key)
  SaaS API               {urls.saas_api}  (X-Admin-Key: the SaaS API master key)
  admin panel            {urls.admin}  (log in with the SaaS API master key)
  the two keys           {get} litellm_master_key
                         {get} saas_api_master_key
  team keys              {KEYS_FILE} (0600; written when the seed created the team)
  compose file           {render.COMPOSE_FILE.relative_to(REPO)} (with DOCKER_HOST as above)
  SaaS API source        saas_api/src is mounted: edits reload the service, no rebuild
Re-run `make dev` any time (it changes nothing); `make dev-down` stops it (data kept),
`make dev-purge` removes its containers, network and volumes."""


def down(purge: bool) -> int:
    config = settings.load()
    client = engine.client()
    project = config["dev_project"]
    args = ["down", "--remove-orphans"] + (["--volumes"] if purge else [])
    if render.COMPOSE_FILE.exists():
        step(f"docker compose {' '.join(args)}")
        stack.compose(engine.compose_command(), *args)
    if purge:
        for leftover in stack.remove_leftovers(client, project):
            print(f"    removed {leftover}")
    left = stack.project_containers(client, project)
    if left:
        raise DevError(f"containers still there: {', '.join(c.name for c in left)}")
    kept = ", ".join(volume.name for volume in stack.project_volumes(client, project))
    print("    containers, network and volumes removed" if purge else f"    stopped; kept {kept}")
    return 0


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "up"
    if command == "up":
        return up()
    if command in ("down", "purge"):
        return down(purge=command == "purge")
    print(f"usage: {sys.argv[0]} [up|down|purge]", file=sys.stderr)
    return EXIT_INPUT


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (
        settings.SettingsError,
        engine.EngineError,
        base_image.BaseImageError,
        images.ImageError,
        stack.StackError,
        ProvisioningError,
        DevError,
        docker.errors.DockerException,  # the engine's own refusal, e.g. a subnet already in use
    ) as error:
        print(f"dev: {error}", file=sys.stderr)
        sys.exit(EXIT_INPUT if isinstance(error, settings.SettingsError) else 1)
