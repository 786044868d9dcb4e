"""The dev target's pure parts: its settings check, the files it renders from the deploy's
templates (owners, modes, no secret in the compose file), and the digests that decide what is
rebuilt or recreated."""

from __future__ import annotations

import pytest
import yaml

from bundle import scram
from bundle.secret_store import SPECS
from compose import images, render, settings, stack

SECRETS = {name: f"{name}-value-{'x' * 8}" for name in SPECS}
TAGS = {service: f"gateway-dev/{service}:{n:016x}" for n, service in enumerate(images.USERS)}


def load(tmp_path, text: str):
    path = tmp_path / "dev.py"
    path.write_text(text)
    return settings.load((path,))


def test_the_defaults_are_valid(tmp_path):
    config = load(tmp_path, "")
    assert (config["dev_litellm_port"], config["dev_saas_api_port"]) == (8002, 8003)
    assert config["dev_admin_port"] == 3000


def test_the_base_image_follows_the_chosen_release_unless_set(tmp_path):
    assert load(tmp_path, "")["dev_base_image"] == "debian:bookworm-slim"
    assert load(tmp_path, 'dev_suite = "trixie"\n')["dev_base_image"] == "debian:trixie-slim"
    chosen = load(tmp_path, 'dev_suite = "trixie"\ndev_base_image = "mine:13"\n')
    assert chosen["dev_base_image"] == "mine:13"
    with pytest.raises(settings.SettingsError, match="dev_suite = 'bullseye'; set it to"):
        load(tmp_path, 'dev_suite = "bullseye"\n')


def test_a_bad_value_names_the_file_the_key_and_what_to_put_there(tmp_path):
    with pytest.raises(settings.SettingsError) as error:
        load(tmp_path, 'dev_litellm_port = "8o02"\ndev_fake_provider = "yes"\n')
    lines = str(error.value).splitlines()
    assert lines == [
        f"{tmp_path}/dev.py: dev_litellm_port = '8o02'; set it to a port number from 1024 to "
        "65535 (or remove it for the default)",
        f"{tmp_path}/dev.py: dev_fake_provider = 'yes'; set it to True or False (or remove it "
        "for the default)",
    ]


@pytest.mark.parametrize("value", ["0", "2", "'fast'", "True"])
def test_the_spend_flush_spacing_is_a_fraction_of_a_second(tmp_path, value):
    with pytest.raises(settings.SettingsError, match="litellm_spend_flush_seconds = .*above 0"):
        load(tmp_path, f"litellm_spend_flush_seconds = {value}\n")


def test_an_unknown_key_is_refused_with_the_nearest_name(tmp_path):
    with pytest.raises(settings.SettingsError, match="did you mean dev_litellm_port"):
        load(tmp_path, "dev_litelm_port = 9002\n")


def test_the_two_ports_must_differ_and_the_subnet_be_private(tmp_path):
    with pytest.raises(settings.SettingsError) as error:
        load(tmp_path, 'dev_saas_api_port = 8002\ndev_subnet = "8.8.8.0/24"\n')
    assert "dev_saas_api_port = 8002; set it to a port other than dev_litellm_port" in str(
        error.value
    )
    assert "dev_subnet = '8.8.8.0/24'" in str(error.value)


@pytest.mark.parametrize("taken", [8002, 8003])
def test_the_admin_panel_needs_a_port_of_its_own(tmp_path, taken):
    with pytest.raises(settings.SettingsError) as error:
        load(tmp_path, f"dev_admin_port = {taken}\n")
    assert str(error.value) == (
        f"{tmp_path}/dev.py: dev_admin_port = {taken}; set it to a port other than "
        "dev_litellm_port and dev_saas_api_port (or remove it for the default)"
    )


@pytest.fixture
def rendered(tmp_path):
    return render.render_stack(load(tmp_path, ""), TAGS, SECRETS, tmp_path / "src")


def test_no_secret_is_in_the_compose_file(rendered):
    assert not [name for name, value in SECRETS.items() if value in rendered.compose]


def files_of(rendered, service):
    return next(v for v in rendered.volumes if v.service == service).files


def test_each_file_has_the_owner_and_mode_the_hosts_give_it(rendered):
    litellm, saas, redis = (images.USERS[s].uid for s in ("litellm", "saas-api", "redis"))
    env = files_of(rendered, "litellm")["litellm.env"]
    assert (env.uid, env.gid, env.mode) == (0, litellm, 0o640)
    assert SECRETS["litellm_salt_key"] in env.content
    saas_env = files_of(rendered, "saas-api")["saas-api.env"]
    assert (saas_env.uid, saas_env.mode) == (saas, 0o600)
    flush = files_of(rendered, "litellm")["spend_flush.py"]
    assert (flush.uid, flush.gid, flush.mode) == (0, litellm, 0o640)
    acl = files_of(rendered, "redis")["users.acl"]
    assert (acl.uid, acl.mode) == (redis, 0o600)
    assert SECRETS["redis_litellm_password"] not in acl.content  # only its hash


def test_postgres_gets_verifiers_never_passwords_and_hba_admits_tls_from_the_subnet(rendered):
    files = files_of(rendered, "postgres")
    roles = files["roles.sql"].content
    for secret in ("postgres_litellm_password", "postgres_saas_password"):
        assert SECRETS[secret] not in roles
        verifier = render.dev_verifier(SECRETS[secret])
        assert verifier in roles and scram.matches(SECRETS[secret], verifier)
    rules = [line.split() for line in files["pg_hba.conf"].content.splitlines() if line[:1] != "#"]
    assert ["hostssl", "litellm", "litellm", "172.29.213.0/24", "scram-sha-256"] in rules
    assert not [rule for rule in rules if rule[-1] in ("trust", "md5", "password")]


def test_the_compose_file_hardens_every_service_and_publishes_on_loopback_only(rendered):
    compose = yaml.safe_load(rendered.compose)
    for name, service in compose["services"].items():
        assert service["read_only"] and service["cap_drop"] == ["ALL"], name
        assert service["security_opt"] == ["no-new-privileges:true"], name
        assert not service["user"].startswith("0"), name
        assert "healthcheck" in service, name
        assert all(port.startswith("127.0.0.1:") for port in service.get("ports", [])), name
    assert compose["services"]["litellm"]["ports"] == ["127.0.0.1:8002:4000"]
    assert compose["services"]["admin"]["ports"] == ["127.0.0.1:3000:3000"]
    assert "ports" not in compose["services"]["postgres"]


def test_every_published_port_is_checked_for_being_taken_before_up(rendered):
    compose = yaml.safe_load(rendered.compose)
    published = {name for name, service in compose["services"].items() if "ports" in service}
    assert published == set(stack.PORT_SETTINGS) == {"litellm", "saas-api", "admin"}
    assert set(stack.PORT_SETTINGS.values()) <= set(settings.DEFAULTS)


def test_the_admin_panel_runs_the_saas_api_image_with_its_environment_and_reload(rendered):
    services = yaml.safe_load(rendered.compose)["services"]
    admin, saas = services["admin"], services["saas-api"]
    assert admin["image"] == saas["image"] == TAGS["saas-api"]
    uid = images.USERS["saas-api"].uid
    assert admin["user"] == saas["user"] == f"{uid}:{uid}"
    command = admin["command"]
    assert command[:3] == ["/usr/local/lib/gateway/with-env", "/etc/saas-api/saas-api.env", "--"]
    assert command[3:6] == [
        "/opt/saas-api/venv/bin/uvicorn",
        "--factory",
        "saas_api.admin.app:create_app",
    ]
    assert command[command.index("--port") + 1] == "3000"
    # The dev loop, as the SaaS API's: the mounted source, reloaded on change.
    assert command[-3:] == ["--reload", "--reload-dir", "/src/saas_api"]
    source = next(v for v in saas["volumes"] if v.endswith(":/src:ro"))
    assert admin["volumes"] == ["admin-etc:/etc/saas-api:ro", source]
    assert admin["depends_on"] == {"saas-api": {"condition": "service_healthy"}}
    assert admin["healthcheck"]["test"] == [
        "CMD",
        "/usr/local/lib/gateway/healthcheck",
        "http://127.0.0.1:3000/health/ready",
        "ready",
        "true",
    ]
    assert files_of(rendered, "admin") == files_of(rendered, "saas-api")


def test_a_changed_secret_recreates_only_the_services_that_read_it(tmp_path):
    config = load(tmp_path, "")
    before = yaml.safe_load(render.render_stack(config, TAGS, SECRETS, tmp_path).compose)
    changed = SECRETS | {"saas_api_master_key": "sk-" + "y" * 40}
    after = yaml.safe_load(render.render_stack(config, TAGS, changed, tmp_path).compose)
    label = lambda c, s: c["services"][s]["labels"]["org.gateway-bundle.inputs"]  # noqa: E731
    differ = {s for s in before["services"] if label(before, s) != label(after, s)}
    # The admin panel reads the SaaS API's environment file.
    assert differ == {"saas-api", "admin"}


def test_the_same_secrets_render_the_same_files(tmp_path):
    config = load(tmp_path, "")
    first = render.render_stack(config, TAGS, SECRETS, tmp_path)
    second = render.render_stack(config, TAGS, SECRETS, tmp_path)
    assert first == second


def test_an_image_digest_follows_its_inputs(tmp_path):
    script = tmp_path / "start"
    script.write_text("#!/bin/sh\n")
    digest = images.inputs_digest("sha256:base", "FROM x\n", {"start": script})
    assert digest == images.inputs_digest("sha256:base", "FROM x\n", {"start": script})
    assert digest != images.inputs_digest("sha256:other", "FROM x\n", {"start": script})
    script.write_text("#!/bin/sh\necho changed\n")
    assert digest != images.inputs_digest("sha256:base", "FROM x\n", {"start": script})
