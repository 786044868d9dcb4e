"""`make demo` after the testbed is up: deploy, seed the setup guide's example against the fake
provider, run the guide's "Step 4: Test End-to-End" through the edge over TLS, and say where
everything is. Re-running it changes nothing and prints the same.

Steps (each fails loudly with the command's own output):
1. `pyinfra inventories/testbed.py deploy.py --data seed_spec=<spec>`: the whole deploy, its
   last step seeding examples/seed.yaml with every credential pointed at the fake provider;
2. the fake provider as a service on the edge host (tests/fakes/deploy_fake_provider.py);
3. the verification suite against the testbed inventory;
4. Step 4 from the admin network (this machine) over TLS verified against the fetched CA:
   GET /api/teams/test-team with the admin key, then a chat completion with the team's key.
Secrets travel only in files curl reads (`-H @file`, mode 0600), never in argv or output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bundle.guide_curl import CurlError, curl_json  # noqa: E402
from bundle.secret_store import SecretStore  # noqa: E402
from provisioning.cli import default_keys_file  # noqa: E402
from tasks.edge import ca_certificate_path  # noqa: E402
from testbed import paths, state  # noqa: E402
from tests.fakes.seed_spec import write_for_fake_provider  # noqa: E402

BIN = Path(sys.executable).parent
ENVIRONMENT = "testbed"
EXAMPLE = REPO / "examples" / "seed.yaml"
FAKE_PROVIDER_PORT = 9999
# The fake provider accepts any key; the credentials still need one (LiteLLM sends it).
PROVIDER_KEY_ENV = "DEMO_FAKE_PROVIDER_KEY"
GATEWAY, API = "gateway.testbed.internal", "api.testbed.internal"
ADMIN = "admin.testbed.internal"  # group_data/testbed.py's edge_admin_host
CA = ca_certificate_path(ENVIRONMENT)
KEYS_FILE = default_keys_file(ENVIRONMENT)


class DemoError(Exception):
    pass


def run(step: str, args: list, *, env: dict | None = None, timeout: int = 1800) -> str:
    print(f"==> {step}", flush=True)
    done = subprocess.run(
        [str(a) for a in args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise DemoError(f"{step} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done.stdout


def demo_spec(provider_url: str) -> Path:
    """examples/seed.yaml with every credential pointed at the fake provider."""
    return write_for_fake_provider(
        EXAMPLE, provider_url, PROVIDER_KEY_ENV, paths.STATE_DIR / "demo-seed.yaml"
    )


def summary_of(report: dict) -> str:
    changed = [op["name"] for op in report["results"]["operations"] if op["success"]]
    return f"{len(changed)} operation(s) changed" + (
        ": " + "; ".join(changed[:8]) + (" …" if len(changed) > 8 else "") if changed else ""
    )


def curl(edge: str, name: str, path: str, headers: dict[str, str], body: dict | None = None):
    """An HTTPS request to the edge by name, verified against the CA."""
    try:
        return curl_json(
            f"https://{name}{path}",
            headers,
            body,
            curl_args=["--cacert", str(CA), "--resolve", f"{name}:443:{edge}"],
        )
    except CurlError as error:
        raise DemoError(str(error)) from None


def main() -> int:
    testbed = state.load()
    if testbed is None:
        raise DemoError("the testbed is not up: run `make testbed-up` (or `make demo`)")
    edge = next(h for h in testbed.hosts if "edge" in h.groups)
    spec = demo_spec(f"http://{edge.address}:{FAKE_PROVIDER_PORT}/v1")
    env = {PROVIDER_KEY_ENV: "sk-demo-fake-provider"}

    deployed = run(
        "deploy, then seed examples/seed.yaml (pointed at the fake provider)",
        [BIN / "pyinfra", "-y", "--json", "inventories/testbed.py", "deploy.py"]
        + ["--data", f"seed_spec={spec}"],
        env=env,
    )
    print(f"    {summary_of(json.loads(deployed))}")
    provider = run(
        "the fake LLM provider on the edge host",
        [BIN / "pyinfra", "-y", "--json", "inventories/testbed.py"]
        + ["tests/fakes/deploy_fake_provider.py", "--limit", edge.name],
    )
    print(f"    {summary_of(json.loads(provider))}")
    verified = run(
        "verification suite",
        [BIN / "python", "-m", "pytest", "tests/verify", "--inventory", "inventories/testbed.py"]
        + ["-q"],
    )
    print(f"    {verified.strip().splitlines()[-1]}")

    print("==> the guide's Step 4 through the edge (TLS verified against the testbed CA)")
    master_key = SecretStore(ENVIRONMENT).values()["saas_api_master_key"]
    team = curl(edge.address, API, "/api/teams/test-team", {"X-Admin-Key": master_key})
    print(f"    GET https://{API}/api/teams/test-team: {team['name']}, status {team['status']}")
    answer = curl(
        edge.address,
        GATEWAY,
        "/chat/completions",
        {"Authorization": f"Bearer {team['virtual_key']}"},
        {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "Hello!"}]},
    )
    reply = answer["choices"][0]["message"]["content"]
    print(f"    POST https://{GATEWAY}/chat/completions: {reply!r}")

    print(
        f"""
The gateway is up on the testbed (edge {edge.name}, {edge.address}):
  LiteLLM (teams' apps)  https://{GATEWAY}
  SaaS API               https://{API}
  CA certificate         {CA}
  curl example           curl --cacert {CA} --resolve {GATEWAY}:443:{edge.address} \\
                             https://{GATEWAY}/health/liveliness
  team keys              {KEYS_FILE} (mode 0600; written when the seed created the team)
  LiteLLM UI             https://{GATEWAY}/ui from this machine (the admin network): map the
                         name in /etc/hosts ({edge.address} {GATEWAY}), trust the CA, log in
                         as "admin" with the master key from
                         `.venv/bin/python -m bundle.secrets get {ENVIRONMENT} litellm_master_key`
  admin panel            https://{ADMIN} from this machine (the admin network): map it in
                         /etc/hosts too ({edge.address} {ADMIN}), log in with the SaaS API's
                         admin key from
                         `.venv/bin/python -m bundle.secrets get {ENVIRONMENT} saas_api_master_key`
Re-run `make demo` any time (it changes nothing); `make demo-down` removes the testbed."""
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DemoError as error:
        print(f"demo: {error}", file=sys.stderr)
        sys.exit(1)
