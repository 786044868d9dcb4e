"""The LiteLLM proxy for the `llm` group. Stage one, install: the hash-locked wheelhouse built on
the control machine, pushed and installed into a root-owned venv (hosts need no PyPI access).

Configuration, the bundled Prisma engine, migrations and the service follow (issue 4)."""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.operations import apt, files

from bundle import artifacts
from bundle.facts import PythonVersion
from bundle.operations import venv_from_wheelhouse

ROOT = "/opt/litellm"
CACHE = "/var/cache/gateway-bundle"


@deploy("LiteLLM")
def deploy_litellm():
    _check_python()
    apt.packages(
        name="Install Python's venv support", packages=["python3-venv"], no_recommends=True
    )
    files.directory(name=f"Create {CACHE}", path=CACHE, mode="700")
    files.directory(name=f"Create {ROOT}", path=ROOT, mode="755")
    files.directory(name=f"Create {ROOT}/venvs", path=f"{ROOT}/venvs", mode="755")
    files.put(
        name="Push the LiteLLM wheelhouse",
        src=str(artifacts.bundle_tar("litellm")),
        dest=f"{CACHE}/litellm-wheelhouse.tar",
        mode="600",
    )
    venv_from_wheelhouse(
        name="Install LiteLLM from the wheelhouse",
        tar=f"{CACHE}/litellm-wheelhouse.tar",
        root=ROOT,
        artifact=artifacts.artifact_name("litellm"),
    )


def _check_python():
    wanted = ".".join(map(str, artifacts.TARGET_PYTHON))
    found = host.get_fact(PythonVersion)
    if found != wanted:
        raise DeployError(
            f"{host.name}: LiteLLM's wheelhouse is built for Python {wanted} (Debian bookworm); "
            f"this host has {found or 'no python3'}: use bookworm for llm hosts"
        )
