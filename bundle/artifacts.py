"""Artifacts built on the control machine and pushed to hosts, so hosts need no PyPI access.

A hash-locked requirements file (bundle/requirements/<name>.lock) is resolved once into a
wheelhouse cached on the control machine, then packed into one deterministic tar: the same lock
always gives the same bytes, so pushing it again is "No change" and a host reinstalls only when
the lock changed."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parent / "requirements"
# The Python the wheels are built for: Debian bookworm's CPython.
TARGET_PYTHON = (3, 11)


class ArtifactError(Exception):
    """The wheelhouse cannot be built; the message says why and what to do."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(os.environ.get("GATEWAY_ARTIFACT_CACHE", Path(base) / "gateway-bundle"))


def lock_path(name: str) -> Path:
    return REQUIREMENTS / f"{name}.lock"


def lock_digest(name: str) -> str:
    return hashlib.sha256(lock_path(name).read_bytes()).hexdigest()[:16]


def artifact_name(name: str) -> str:
    return f"{name}-{lock_digest(name)}"


def wheelhouse(name: str) -> Path:
    """The cached wheelhouse for `name`'s lock, downloaded (hash-checked) on first use."""
    target = cache_dir() / "wheelhouse" / artifact_name(name)
    if (target / ".complete").exists():
        return target
    if sys.version_info[:2] != TARGET_PYTHON:
        raise ArtifactError(
            f"the {name} wheelhouse is built for CPython {'.'.join(map(str, TARGET_PYTHON))}; "
            f"this control machine runs {sys.version.split()[0]}: run pyinfra from a 3.11 venv"
        )
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    print(f"artifacts: downloading the {name} wheelhouse (once per lock)", file=sys.stderr)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--require-hashes",
            "--only-binary=:all:",
            "--dest",
            str(partial),
            "--requirement",
            str(lock_path(name)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = [line for line in result.stderr.splitlines() if "ERROR" in line][-1:]
        raise ArtifactError(
            f"{lock_path(name)}: could not download every pinned wheel"
            + (f" ({detail[0].strip()})" if detail else "")
            + "; check the package index is reachable, or re-lock with `make lock-litellm`"
        )
    (partial / ".complete").write_text(lock_digest(name) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def bundle_tar(name: str) -> Path:
    """One deterministic tar of the wheelhouse plus its lock (sorted, zero mtimes, root-owned)."""
    source = wheelhouse(name)
    tar_path = source.with_suffix(".tar")
    if tar_path.exists():
        return tar_path
    partial = tar_path.with_name(tar_path.name + ".partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
        members = sorted(p for p in source.iterdir() if p.suffix == ".whl")
        members.append(lock_path(name))
        for path in members:
            data = path.read_bytes()
            info = tarfile.TarInfo(path.name if path.suffix == ".whl" else "requirements.lock")
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            archive.addfile(info, io.BytesIO(data))
    partial.rename(tar_path)
    return tar_path
