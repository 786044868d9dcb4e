"""Which LiteLLM release an `llm` host runs: the lock named by `litellm_lock`, checked on the
control machine before any host changes.

A release is a hash-locked requirements file, `bundle/requirements/<litellm_lock>.lock`; its
venv is `/opt/litellm/venvs/litellm-<digest of that file>-<cpXY>` (bundle/artifacts.py), so
another lock is another venv and the same lock is always the same one. Each llm host keeps the
venv it ran before the last switch (and the engine release likewise), older ones are pruned.

Rolling back is deploying the previous lock again:

    pyinfra inventories/prod.py deploy.py --data litellm_lock=<previous lock>

Why the deploy itself and no command of its own: the locks live in the repository, so any
clone can roll back, and the rollback goes through the same gates as the upgrade did (this
check, migrations once from the first llm host, one instance at a time with the edge draining,
a second run "No change"); a record on the hosts would be a second source of truth that a
rebuilt host or a fresh clone lacks. The kept venv is only switched back to, never reinstalled,
and its wheelhouse is not pushed again. To stay there, set `litellm_lock` to that name in
group_data/<environment>.py (or revert the change that moved it)."""

from __future__ import annotations

import re
from pathlib import Path

from bundle.errors import PreflightError

KEY = "litellm_lock"
DEFAULT = "litellm"
REQUIREMENTS = Path(__file__).resolve().parent / "requirements"
WHERE = "group_data/<environment>.py"
NAME = re.compile(r"^litellm[A-Za-z0-9._-]*$")
PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)")


def lock_names(requirements: Path = REQUIREMENTS) -> list[str]:
    """The LiteLLM locks a host can run: `bundle/requirements/litellm*.lock`."""
    return sorted(p.stem for p in requirements.glob("litellm*.lock") if NAME.match(p.stem))


def requirements_of(text: str) -> list[str]:
    """A lock's requirements, one logical line each (continuations joined, comments dropped)."""
    logical = re.sub(r"\\\n", " ", text)
    lines = (line.split(" #")[0].strip() for line in logical.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def pinned(text: str) -> dict[str, str]:
    """Package (lower case) -> the version a lock pins."""
    found = {}
    for line in requirements_of(text):
        match = PIN.match(line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def check_lock(host: str, value, requirements: Path = REQUIREMENTS) -> str:
    """The lock `value` names, if it is a hash-locked LiteLLM lock in `requirements`; else one
    line naming the key, the file and what to do."""
    names = ", ".join(lock_names(requirements)) or "none"
    remedy = f"set {KEY} in {WHERE} to one of: {names}"
    if value is None:
        value = DEFAULT
    if not isinstance(value, str) or not NAME.match(value):
        raise PreflightError(
            f"{host}: {KEY} = {value!r} is not a lock name (litellm…, the file name in "
            f"bundle/requirements/ without .lock); {remedy}"
        )
    path = requirements / f"{value}.lock"
    shown = f"bundle/requirements/{value}.lock"
    if not path.is_file():
        raise PreflightError(
            f"{host}: {KEY} = {value!r} but {shown} does not exist; {remedy} (or add that lock: "
            "README, Upgrading and rolling back LiteLLM)"
        )
    lines = requirements_of(path.read_text())
    unpinned = [line.split()[0] for line in lines if not PIN.match(line) or "--hash=" not in line]
    if unpinned:
        raise PreflightError(
            f"{host}: {KEY} = {value!r} but {shown} has {unpinned[0]!r} without an exact pin "
            f"and hash; re-lock it with hashes (pip-compile --generate-hashes) or {remedy}"
        )
    versions = pinned(path.read_text())
    missing = [package for package in ("litellm", "prisma") if package not in versions]
    if missing:
        raise PreflightError(
            f"{host}: {KEY} = {value!r} but {shown} does not pin {missing[0]}; a LiteLLM lock "
            f"pins litellm and prisma (see litellm.in); {remedy}"
        )
    return value


def check_same_lock(locks: dict[str, str]) -> None:
    """Every llm host runs the same release: the first one's venv applies the migrations
    every host then serves with."""
    if len(set(locks.values())) > 1:
        shown = ", ".join(f"{host}: {lock}" for host, lock in sorted(locks.items()))
        raise PreflightError(
            f"{KEY} differs between llm hosts ({shown}); set one {KEY} for the llm group in {WHERE}"
        )
