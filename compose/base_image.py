"""The Debian base every dev image builds on: `dev_base_image` (debian:bookworm-slim) where it is
present or a registry has it; otherwise the same release made here, as the testbed makes its
hosts' root filesystem: debootstrap (minbase) from this machine's own Debian mirror, its apt
sources and extra CA certificates inside (HTTPS to the registries may be re-signed by a local
CA), then `docker import`. Built once per input set and kept in the engine."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import docker.errors

from testbed import guest, sources

PACKAGES = ("ca-certificates",)
REVISION = 1
REPOSITORY = "gateway-dev/debian"


class BaseImageError(Exception):
    pass


def ensure(client, settings) -> str:
    """The base image's reference (a tag the engine has)."""
    wanted = settings["dev_base_image"]
    try:
        client.images.get(wanted)
        return wanted
    except docker.errors.ImageNotFound:
        pass
    try:
        client.images.pull(wanted)
        print(f"    pulled {wanted}", flush=True)
        return wanted
    except docker.errors.APIError as error:
        reason = str(error.explanation or error).split(": ")[-1]
        suite = settings["dev_suite"]
        print(f"    {wanted} cannot be pulled ({reason}): the {suite} base is made here")
    return _built_here(client, settings["dev_suite"])


def _built_here(client, suite: str) -> str:
    apt = sources.debian_sources(sources.control_apt_sources(), suite)
    if not apt:
        raise BaseImageError(
            "no registry has the base image and this machine has no Debian apt sources to "
            "build it from: set dev_base_image in group_data/dev.py to an image you have"
        )
    mirror = sources.main_mirror(apt, suite)
    certificates = sources.extra_ca_certificates()
    material = "\n".join(
        [suite, mirror.uri, ",".join(PACKAGES), str(REVISION), sources.render_deb822(apt)]
        + [c.read_text() for c in certificates]
    )
    tag = f"{REPOSITORY}:{suite}-{hashlib.sha256(material.encode()).hexdigest()[:12]}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    if shutil.which("debootstrap") is None:
        raise BaseImageError("debootstrap is missing: `apt-get install debootstrap` (as root)")
    started = time.monotonic()
    print(f"==> building the {suite} base image with debootstrap from {mirror.uri} (once)")
    with tempfile.TemporaryDirectory(prefix="gateway-dev-base-") as work:
        rootfs = Path(work) / "rootfs"
        _run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}"]
            + [suite, str(rootfs), mirror.uri]
        )
        (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
        (rootfs / "etc/apt/sources.list.d/debian.sources").write_text(sources.render_deb822(apt))
        guest.copy_ca_certificates(rootfs, certificates)
        _run(["chroot", str(rootfs), "update-ca-certificates"])
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / cache).glob("*"):
                if path.is_file():
                    path.unlink()
        archive = Path(work) / "rootfs.tar"
        _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(archive), "."])
        repository, _, version = tag.partition(":")
        with archive.open("rb") as stream:
            client.api.import_image_from_data(
                stream.read(),
                repository=repository,
                tag=version,
                changes=['CMD ["/bin/bash"]', "ENV LANG=C.UTF-8"],
            )
    print(f"    {tag} in {time.monotonic() - started:.0f} s", flush=True)
    return tag


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        raise BaseImageError(f"{' '.join(args[:2])} failed: {' '.join(detail)}")
