"""The testbed's record of itself: which hosts exist, where their image is, how to reach them.

`inventories/testbed.py` reads the same file, so pyinfra targets exactly the running hosts."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from testbed import paths
from testbed.topology import HostSpec


@dataclass
class TestbedState:
    shape: str
    suite: str
    subnet: str
    gateway: str
    image: str
    hosts: list[HostSpec] = field(default_factory=list)
    previous_ip_forward: str | None = None
    # suite -> root filesystem, for hosts of another release than `suite` (`image`'s).
    other_images: dict[str, str] = field(default_factory=dict)

    def suite_of(self, host: HostSpec) -> str:
        return host.suite or self.suite

    def image_of(self, host: HostSpec) -> str:
        return self.other_images.get(host.suite, self.image) if host.suite else self.image

    def suites(self) -> list[str]:
        return sorted({self.suite_of(host) for host in self.hosts} | {self.suite})

    def host(self, name: str) -> HostSpec:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def to_json(self) -> dict:
        return {
            "shape": self.shape,
            "suite": self.suite,
            "subnet": self.subnet,
            "gateway": self.gateway,
            "image": self.image,
            "other_images": self.other_images,
            "previous_ip_forward": self.previous_ip_forward,
            "ssh_key": str(paths.SSH_KEY),
            "ssh_config": str(paths.SSH_CONFIG),
            "known_hosts": str(paths.KNOWN_HOSTS),
            "hosts": [h.to_json() for h in self.hosts],
        }


def load() -> TestbedState | None:
    if not paths.STATE_FILE.exists():
        return None
    data = json.loads(paths.STATE_FILE.read_text())
    return TestbedState(
        shape=data["shape"],
        suite=data["suite"],
        subnet=data["subnet"],
        gateway=data["gateway"],
        image=data["image"],
        hosts=[HostSpec.from_json(h) for h in data["hosts"]],
        previous_ip_forward=data.get("previous_ip_forward"),
        other_images=data.get("other_images", {}),
    )


def save(state: TestbedState) -> None:
    paths.STATE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = paths.STATE_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=2) + "\n")
    os.replace(tmp, paths.STATE_FILE)


def remove() -> None:
    paths.STATE_FILE.unlink(missing_ok=True)
