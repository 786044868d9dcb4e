"""The shell steps that install a pushed artifact. Hosts run them through the deploy's operations
(bundle/operations.py), the dev target's images in their build (compose/images.py): one recipe,
so a venv in an image is built exactly as on a host."""

from __future__ import annotations

import shlex


def venv_steps(tar: str, root: str, artifact: str) -> list[str]:
    """Build `<root>/venvs/<artifact>` from the wheelhouse `tar` with `--no-index
    --require-hashes` (nothing is downloaded), marked with the artifact it holds."""
    target, wheels = f"{root}/venvs/{artifact}", f"{root}/venvs/.wheels"
    pip = [f"{target}/bin/pip", "install", "--quiet", "--no-index", "--no-deps"]
    pip += ["--require-hashes", "--disable-pip-version-check", "--find-links", wheels]
    pip += ["--requirement", f"{wheels}/requirements.lock"]
    return [
        shlex.join(["rm", "-rf", target, wheels]),
        shlex.join(["mkdir", "-p", wheels]),
        shlex.join(["tar", "-xf", tar, "-C", wheels]),
        shlex.join(["python3", "-m", "venv", target]),
        shlex.join(pip),
        shlex.join(["cp", f"{wheels}/requirements.lock", f"{target}/requirements.lock"]),
        f"echo {artifact} > {target}/.gateway-artifact",
        shlex.join(["rm", "-rf", wheels]),
    ]


def release_steps(tar: str, releases: str, release: str) -> list[str]:
    """Unpack `tar` into `<releases>/<release>`, marked with the release it holds."""
    target = f"{releases}/{release}"
    return [
        shlex.join(["rm", "-rf", target]),
        shlex.join(["mkdir", "-p", target]),
        shlex.join(["tar", "-xf", tar, "-C", target, "--no-same-owner"]),
        f"echo {release} > {target}/.gateway-release",
    ]
