"""`prisma generate` for LiteLLM's schema with the bundled engine: the Prisma CLI comes from
engine/node_modules and nothing is downloaded."""

from __future__ import annotations

from .conftest import QUERY_ENGINE
from .litellm_service import SITE_PACKAGES


def test_generate_used_the_bundled_cli_and_downloaded_nothing(prisma_venv):
    assert "Generated Prisma Client Python (v0.15.0)" in prisma_venv["generate_output"]
    assert "Installing Prisma CLI" not in prisma_venv["generate_output"]  # no npm install
    # the CLI's engine download cache stays empty (CHECKPOINT_DISABLE: no telemetry file either)
    assert [p for p in prisma_venv["home"].rglob("*") if p.is_file()] == []
    client = prisma_venv["venv"] / SITE_PACKAGES / "prisma" / "client.py"
    assert str(QUERY_ENGINE) in client.read_text()  # the engine path baked into the client
