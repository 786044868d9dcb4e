"""The live state seeding plans against, read once: LiteLLM's credentials, models, teams and keys
and the SaaS API's model groups, organizations and teams, each cut down to the fields the plan
and the drift report compare. What it holds is never a secret (credentials carry only a
fingerprint, keys only LiteLLM's hash of them), so it may travel as a pyinfra fact's output.

The deploy reads it on an `api` host (`tasks/seed.py`), where this module runs alone beside
clients.py with the SaaS API's own venv (httpx only):

    python -m provisioning.snapshot --env-file /etc/saas-api/saas-api.env --saas-url URL

It takes the admin keys and LiteLLM's address from the SaaS API's environment file and prints
the snapshot as JSON."""

from __future__ import annotations

import argparse
import json
import sys

from provisioning.clients import LiteLLMAdmin, SaasAdmin

SECTIONS = (
    "credentials",
    "models",
    "model_groups",
    "organizations",
    "teams",
    "litellm_teams",
    "litellm_keys",
)


def _pick(item: dict, fields: tuple[str, ...]) -> dict:
    return {f: item.get(f) for f in fields}


def read(litellm: LiteLLMAdmin, saas: SaasAdmin) -> dict[str, list[dict]]:
    return {
        "credentials": [
            {
                "credential_name": c["credential_name"],
                "credential_info": _pick(
                    c.get("credential_info") or {},
                    (
                        "custom_llm_provider",
                        "api_base",
                        "api_version",
                        "secret_fingerprint",
                        "managed_by",
                    ),
                ),
            }
            for c in litellm.credentials()
        ],
        "models": [
            {
                "model_name": m.get("model_name"),
                "model_info": _pick(m.get("model_info") or {}, ("id", "mode", "managed_by")),
                "litellm_params": _pick(
                    m.get("litellm_params") or {},
                    (
                        "model",
                        "litellm_credential_name",
                        "input_cost_per_token",
                        "output_cost_per_token",
                        "rpm",
                        "tpm",
                    ),
                ),
            }
            for m in litellm.models()
        ],
        "model_groups": saas.model_groups(),
        "organizations": saas.organizations(),
        "teams": saas.teams(),
        "litellm_teams": [
            _pick(t, ("team_id", "models", "max_budget", "metadata")) for t in litellm.teams()
        ],
        "litellm_keys": [
            _pick(k, ("token", "team_id", "key_alias", "models", "blocked", "metadata"))
            for k in litellm.virtual_keys()
        ],
    }


def read_env_file(path: str) -> dict[str, str]:
    """KEY=value lines, as systemd's EnvironmentFile= reads the ones we render."""
    values = {}
    with open(path) as lines:
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                values[key] = value
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provisioning.snapshot")
    parser.add_argument("--env-file", required=True, help="the SaaS API's environment file")
    parser.add_argument("--saas-url", required=True, help="the SaaS API's own address")
    args = parser.parse_args(argv)
    env = read_env_file(args.env_file)
    with (
        # Its first LiteLLM (the SaaS API lists every llm host, comma-separated).
        LiteLLMAdmin(env["LITELLM_PROXY_URL"].split(",")[0], env["LITELLM_MASTER_KEY"]) as litellm,
        SaasAdmin(args.saas_url, env["MASTER_KEY"]) as saas,
    ):
        json.dump(read(litellm, saas), sys.stdout, separators=(",", ":"), sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
