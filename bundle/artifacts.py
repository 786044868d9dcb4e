"""Artifacts built on the control machine and pushed to hosts, so hosts need no PyPI access.

A hash-locked requirements file (bundle/requirements/<name>.lock) is resolved once per target
(a host's Python, glibc and machine: bundle.platforms) into a wheelhouse cached on the control
machine, then packed into one deterministic tar: the same lock always gives the same bytes, so
pushing it again is "No change" and a host reinstalls only when the lock changed. One lock
serves every release: pip-compile's hashes cover every file of each pinned version. The bundled
Prisma engine (engine/, JavaScript and WASM: the same for every release) is built the same way:
its npm lockfile installed once (`npm ci`, integrity-checked) next to a copy of its sources,
then packed."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

from bundle.platforms import Target

REQUIREMENTS = Path(__file__).resolve().parent / "requirements"
ENGINE_SOURCE = Path(__file__).resolve().parent.parent / "engine"
SAAS_API_SOURCE = Path(__file__).resolve().parent.parent / "saas_api"
# What the engine needs at run time; node_modules comes from `npm ci`, never from the checkout.
ENGINE_FILES = ("package.json", "package-lock.json", "migrate.py", "bin", "lib")


class ArtifactError(Exception):
    """The wheelhouse cannot be built; the message says why and what to do."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(os.environ.get("GATEWAY_ARTIFACT_CACHE", Path(base) / "gateway-bundle"))


def lock_path(name: str, lock: str | None = None) -> Path:
    """`bundle/requirements/<lock>.lock`; `lock` names one of several locks of `name` (LiteLLM's
    `litellm_lock`), by default `<name>.lock`."""
    return REQUIREMENTS / f"{lock or name}.lock"


def lock_digest(name: str, lock: str | None = None) -> str:
    return hashlib.sha256(lock_path(name, lock).read_bytes()).hexdigest()[:16]


def artifact_name(name: str, lock: str | None = None) -> str:
    """`<name>-<digest of the lock's bytes>`: another lock, another venv; the same bytes under
    another file name, the same venv."""
    return f"{name}-{lock_digest(name, lock)}"


def venv_name(name: str, lock: str | None, target: Target) -> str:
    """The venv a host builds from the wheelhouse: `<artifact>-<cpXY>`. The Python is in the
    name so that a host moved to another release (another Python) gets a new venv."""
    return f"{artifact_name(name, lock)}-{target.python_tag}"


def wheelhouse(name: str, lock: str | None, target: Target) -> Path:
    """The cached wheelhouse for `name`'s lock and `target`, downloaded (hash-checked) on first
    use."""
    where = cache_dir() / "wheelhouse" / f"{artifact_name(name, lock)}-{target.tag}"
    if (where / ".complete").exists():
        return where
    partial = _partial(where)
    print(
        f"artifacts: downloading the {name} wheelhouse for Python {target.python} "
        "(once per lock and Python)",
        file=sys.stderr,
    )
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
            *target.pip_download_args(),
            "--dest",
            str(partial),
            "--requirement",
            str(lock_path(name, lock)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = [line for line in result.stderr.splitlines() if "ERROR" in line][-1:]
        raise ArtifactError(
            f"{lock_path(name, lock)}: could not download every pinned wheel for Python "
            f"{target.python} on glibc {target.glibc}"
            + (f" ({detail[0].strip()})" if detail else "")
            + "; check the package index is reachable, or re-lock with `make lock-litellm`"
        )
    (partial / ".complete").write_text(lock_digest(name, lock) + "\n")
    _publish(partial, where)
    return where


def bundle_tar(name: str, lock: str | None, target: Target) -> Path:
    """One deterministic tar of the wheelhouse plus its lock (sorted, zero mtimes, root-owned)."""
    source = wheelhouse(name, lock, target)
    tar_path = source.with_name(f"{source.name}.tar")
    if tar_path.exists():
        return tar_path
    members = [(p.name, p) for p in sorted(source.iterdir()) if p.suffix == ".whl"]
    members.append(("requirements.lock", lock_path(name, lock)))
    return _deterministic_tar(tar_path, members)


def saas_api_digest() -> str:
    """Changes whenever the service's sources or its dependency lock change."""
    digest = hashlib.sha256(lock_path("saas_api").read_bytes())
    for path in _saas_api_sources():
        relative = str(path.relative_to(SAAS_API_SOURCE))
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def saas_api_name(target: Target | None = None) -> str:
    """`saas_api-<digest>`, and the venv a host builds from it `…-<cpXY>` (see venv_name)."""
    name = f"saas_api-{saas_api_digest()}"
    return f"{name}-{target.python_tag}" if target else name


def saas_api_wheel() -> Path:
    """The saas_api wheel, built once per digest by hatchling (reproducible: fixed timestamps)
    from this venv, without build isolation, so nothing is downloaded at build time."""
    target = cache_dir() / "saas-api-wheel" / saas_api_name()
    built = sorted(target.glob("saas_api-*.whl"))
    if built:
        return built[0]
    partial = _partial(target)
    shutil.copytree(
        SAAS_API_SOURCE, partial / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index"]
        + ["--no-build-isolation", "--wheel-dir", str(partial), str(partial / "src")],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ | {"SOURCE_DATE_EPOCH": "315532800"},
    )
    if result.returncode != 0:
        raise ArtifactError(
            f"{SAAS_API_SOURCE}: building the wheel failed ({result.stderr.strip()[-300:]}); "
            "run `make setup` (hatchling comes with the control venv)"
        )
    shutil.rmtree(partial / "src")
    _publish(partial, target)
    return sorted(target.glob("saas_api-*.whl"))[0]


def saas_api_tar(target: Target) -> Path:
    """The SaaS API's dependency wheelhouse plus its own (pure Python) wheel, with a
    requirements.lock that pins that wheel by hash too: hosts install everything with
    --require-hashes."""
    wheel = saas_api_wheel()
    tar_path = cache_dir() / "wheelhouse" / f"{saas_api_name()}-{target.tag}.tar"
    if tar_path.exists():
        return tar_path
    source = wheelhouse("saas_api", None, target)
    wheel_hash = hashlib.sha256(wheel.read_bytes()).hexdigest()
    version = wheel.name.split("-")[1]
    lock = _partial(tar_path.with_name(tar_path.stem + ".requirements.lock"))
    lock.write_text(
        lock_path("saas_api").read_text()
        + f"saas-api=={version} \\\n    --hash=sha256:{wheel_hash}\n"
    )
    members = [(p.name, p) for p in sorted(source.iterdir()) if p.suffix == ".whl"]
    members += [(wheel.name, wheel), ("requirements.lock", lock)]
    try:
        return _deterministic_tar(tar_path, members)
    finally:
        lock.unlink()


def _saas_api_sources() -> list[Path]:
    return sorted(
        p
        for p in SAAS_API_SOURCE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def engine_digest() -> str:
    """Changes whenever a file the engine runs with (or its lockfile) changes."""
    digest = hashlib.sha256()
    for relative, path in _engine_sources():
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def engine_name() -> str:
    return f"engine-{engine_digest()}"


def engine_dir() -> Path:
    """The engine's sources plus its npm dependencies, installed once per digest with
    `npm ci --ignore-scripts` (lockfile integrity hashes checked; no install scripts, so
    nothing tries to download Prisma's native engines)."""
    target = cache_dir() / "engine" / engine_name()
    if (target / ".complete").exists():
        return target
    partial = _partial(target)
    for relative, path in _engine_sources():
        (partial / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, partial / relative)
    print("artifacts: installing the engine's npm packages (once per lockfile)", file=sys.stderr)
    try:
        result = subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev"],
            cwd=partial,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
    except FileNotFoundError:
        raise ArtifactError("npm is missing on the control machine: run `make setup`") from None
    if result.returncode != 0:
        detail = [line for line in result.stderr.splitlines() if "ERR" in line][-3:]
        raise ArtifactError(
            f"{ENGINE_SOURCE / 'package-lock.json'}: `npm ci` failed ({' / '.join(detail)}); "
            "check the npm registry is reachable"
        )
    (partial / ".complete").write_text(engine_digest() + "\n")
    _publish(partial, target)
    return target


def engine_tar() -> Path:
    source = engine_dir()
    tar_path = source.with_suffix(".tar")
    if tar_path.exists():
        return tar_path
    members = [
        (str(p.relative_to(source)), p)
        for p in sorted(source.rglob("*"))
        if p.name != ".complete" and (p.is_file() or p.is_symlink())
    ]
    return _deterministic_tar(tar_path, members)


def _engine_sources() -> list[tuple[str, Path]]:
    found = []
    for name in ENGINE_FILES:
        path = ENGINE_SOURCE / name
        paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        found += [(str(p.relative_to(ENGINE_SOURCE)), p) for p in paths]
    return found


def _partial(target: Path) -> Path:
    """A build's private work path next to `target`. pyinfra prepares hosts concurrently
    (gevent): two hosts may build the same artifact at once, each in its own place."""
    return target.with_name(f"{target.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _publish(partial: Path, target: Path) -> None:
    """Move a finished directory into place; if a concurrent build got there first, keep
    theirs (same inputs, same content)."""
    try:
        partial.rename(target)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)


def _deterministic_tar(tar_path: Path, members: list[tuple[str, Path]]) -> Path:
    """Sorted members, zero mtimes, root-owned, modes reduced to 0644/0755: the same inputs
    always give the same bytes, so pushing it again is "No change"."""
    partial = _partial(tar_path)
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
        for name, path in sorted(members):
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
            if path.is_symlink():
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, os.readlink(path), 0o777
                archive.addfile(info)
                continue
            data = path.read_bytes()
            info.size = len(data)
            info.mode = 0o755 if path.stat().st_mode & 0o100 else 0o644
            archive.addfile(info, io.BytesIO(data))
    os.replace(partial, tar_path)  # a concurrent build wrote the same bytes
    return tar_path
