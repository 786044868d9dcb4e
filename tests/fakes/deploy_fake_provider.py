"""Deploy the fake LLM provider as a service (tests and the demo only):

    pyinfra inventories/testbed.py tests/fakes/deploy_fake_provider.py --limit HOST

It listens on the host's private address, port `fake_provider_port` (9999), open in the firewall
to the `llm` peers only, so LiteLLM reaches it over the network like a real provider."""

from io import StringIO
from pathlib import Path

from jinja2 import Template
from pyinfra import host, inventory
from pyinfra.operations import files, systemd

from bundle import firewall
from bundle.operations import running_service

HERE = Path(__file__).resolve().parent
port = host.data.get("fake_provider_port") or 9999
address = host.data.get("private_address")

code = files.put(
    name="Install the fake provider",
    src=str(HERE / "fake_provider.py"),
    dest="/opt/fake-provider/fake_provider.py",
    mode="644",
)
unit = files.put(
    name="Render /etc/systemd/system/fake-provider.service",
    src=StringIO(
        Template((HERE / "fake-provider.service.j2").read_text()).render(address=address, port=port)
    ),
    dest="/etc/systemd/system/fake-provider.service",
    mode="644",
)
systemd.daemon_reload(name="Reload systemd for the fake provider", _if=unit.did_change)
running_service("fake-provider.service", "the fake provider", restart_when=[code, unit])
peers = sorted({h.data.get("private_address") for h in inventory.get_group("llm", [])} - {address})
firewall.allow_port("fake-provider", port, peers)
