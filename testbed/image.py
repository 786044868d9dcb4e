"""The Debian root filesystem every host boots from: built once with debootstrap, then cached.

Hosts mount it read-only as the lower layer of an overlayfs, so a new host costs one mount.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

from testbed import guest, paths, sources
from testbed.sources import AptSource
from testbed.system import progress, run

PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "libpam-systemd",
    "openssh-server",
    "python3",
    "sudo",
    "iproute2",
    "ca-certificates",
)

# Units baked into the image. Host keys are made at first boot so hosts never share them; the
# control machine's CA certificates are copied in at every start and trusted before anything
# that might use HTTPS runs.
UNITS = {
    "testbed-ssh-hostkeys.service": """\
[Unit]
Description=Generate this host's own SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
# The control machine reads the public keys from this host's disk once this marker exists,
# never while ssh-keygen may still be writing them.
ExecStartPost=/usr/bin/touch /etc/ssh/testbed-host-keys-ready

[Install]
WantedBy=multi-user.target
""",
    "testbed-ca-certificates.service": """\
[Unit]
Description=Trust the control machine's extra CA certificates
ConditionPathExists=/etc/testbed/refresh-ca-certificates
After=local-fs.target systemd-tmpfiles-setup.service
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/usr/sbin/update-ca-certificates
ExecStartPost=/bin/rm -f /etc/testbed/refresh-ca-certificates

[Install]
WantedBy=multi-user.target
""",
}

# Drop-ins baked into the image (path under /etc/systemd/system -> content).
DROPINS = {
    # Root's user manager, started by every SSH login, can take the full 90 s default to stop
    # in these containers; `testbed down` should not wait for it.
    "user@.service.d/testbed-stop-timeout.conf": "[Service]\nTimeoutStopSec=5s\n",
}

# Nothing may hold the dpkg lock on its own while a deploy runs; the base deploy decides about
# periodic apt runs itself.
MASKED_UNITS = ("apt-daily.timer", "apt-daily-upgrade.timer")

# Bump when the customisation below changes, so cached images are rebuilt.
IMAGE_REVISION = 2


def image_key(suite: str, mirror: AptSource) -> str:
    material = "\n".join(
        [
            suite,
            mirror.uri,
            ",".join(PACKAGES),
            str(IMAGE_REVISION),
            *sorted(UNITS.values()),
            *sorted(DROPINS.values()),
        ]
    )
    return f"{suite}-{hashlib.sha256(material.encode()).hexdigest()[:12]}"


def image_dir(key: str) -> Path:
    return paths.IMAGES_DIR / key


def ensure_image(suite: str, mirror: AptSource) -> Path:
    """Return the cached root filesystem for `suite`, building it on first use."""
    key = image_key(suite, mirror)
    rootfs = image_dir(key) / "rootfs"
    if (image_dir(key) / "complete").exists():
        return rootfs
    build = paths.IMAGES_DIR / f".build-{key}"
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    progress(
        f"building the {suite} root filesystem with debootstrap from {mirror.uri} (~1-2 min, once)"
    )
    started = time.monotonic()
    run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            suite,
            str(build / "rootfs"),
            mirror.uri,
        ]
    )
    customise(build / "rootfs")
    (build / "complete").write_text(f"built in {time.monotonic() - started:.0f}s\n")
    shutil.rmtree(image_dir(key), ignore_errors=True)
    build.rename(image_dir(key))
    progress(f"cached image {key} in {time.monotonic() - started:.0f}s")
    return rootfs


def customise(rootfs: Path) -> None:
    """Turn a fresh debootstrap into a template that many hosts can share."""
    # Each host gets its own identity at first boot.
    (rootfs / "etc/machine-id").write_text("")
    (rootfs / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    for key in (rootfs / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    for name in ("etc/hostname", "etc/apt/sources.list"):
        (rootfs / name).unlink(missing_ok=True)
    units = rootfs / "etc/systemd/system"
    for name, text in UNITS.items():
        (units / name).write_text(text)
        wanted_by = text.split("WantedBy=")[1].split()[0]
        wants = units / f"{wanted_by}.wants"
        wants.mkdir(exist_ok=True)
        (wants / name).symlink_to(f"/etc/systemd/system/{name}")
    for name, text in DROPINS.items():
        (units / name).parent.mkdir(parents=True, exist_ok=True)
        (units / name).write_text(text)
    for name in MASKED_UNITS:
        (units / name).unlink(missing_ok=True)
        (units / name).symlink_to("/dev/null")
    (rootfs / "root/.ssh").mkdir(mode=0o700, exist_ok=True)
    # Trust today's certificates in the image itself, so a host only pays for
    # update-ca-certificates at boot when the control machine's certificates have changed.
    guest.copy_ca_certificates(rootfs, sources.extra_ca_certificates())
    run(["chroot", str(rootfs), "update-ca-certificates"])


def remove_unused(keep: Path) -> None:
    """Drop cached images of the same suite other than `keep` (older revisions) and
    unfinished builds."""
    suite = keep.parent.name.split("-")[0]
    for directory in paths.IMAGES_DIR.iterdir() if paths.IMAGES_DIR.exists() else []:
        stale = directory.name.startswith((f"{suite}-", ".build-"))
        if stale and directory != keep.parent:
            progress(f"removing unused cached image {directory.name}")
            shutil.rmtree(directory, ignore_errors=True)
