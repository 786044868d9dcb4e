"""The service's tables. Money is NUMERIC (top-ups add exactly); LiteLLM sees floats."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

MONEY = Numeric(20, 6)


class Base(DeclarativeBase):
    pass


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Managed:
    # Set once at creation by a tool that manages the object ("gateway-seed"); None when it was
    # created by hand. Lets a tool's prune remove only its own objects.
    managed_by: Mapped[str | None] = mapped_column(String(64), default=None)


class Organization(Managed, Timestamps, Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    litellm_organization_id: Mapped[str | None] = mapped_column(String(128))

    teams: Mapped[list[Team]] = relationship(back_populates="organization")


class ModelGroup(Managed, Timestamps, Base):
    __tablename__ = "model_groups"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    models: Mapped[list[str]] = mapped_column(JSONB)


class TeamModelGroup(Base):
    __tablename__ = "team_model_groups"

    team_id: Mapped[str] = mapped_column(
        ForeignKey("teams.team_id", ondelete="CASCADE"), primary_key=True
    )
    # RESTRICT: a group cannot disappear under a team that uses it.
    group_name: Mapped[str] = mapped_column(
        ForeignKey("model_groups.name", ondelete="RESTRICT", onupdate="CASCADE"),
        primary_key=True,
    )


class Team(Managed, Timestamps, Base):
    """A team and its one virtual key. `status` records how far LiteLLM has caught up:
    creating (intent recorded, LiteLLM may be partly done), active, suspended, deleting."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    team_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT")
    )
    max_budget: Mapped[Decimal] = mapped_column(MONEY)
    budget_duration: Mapped[str | None] = mapped_column(String(32))
    rpm_limit: Mapped[int | None] = mapped_column(Integer)
    tpm_limit: Mapped[int | None] = mapped_column(Integer)
    metadata_: Mapped[dict] = mapped_column("metadata", JSONB, default=dict)
    status: Mapped[str] = mapped_column(String(16))
    # The key: generated before LiteLLM is called, encrypted with the key-encryption secret.
    key_generation: Mapped[int] = mapped_column(Integer, default=1)
    key_ciphertext: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # A rotation in progress: the next key, recorded before LiteLLM issues it.
    pending_key_ciphertext: Mapped[str | None] = mapped_column(Text)
    pending_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)

    organization: Mapped[Organization] = relationship(back_populates="teams")
    group_links: Mapped[list[TeamModelGroup]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def group_names(self) -> list[str]:
        return sorted(link.group_name for link in self.group_links)

    def key_alias(self, generation: int | None = None) -> str:
        generation = generation or self.key_generation
        return f"{self.team_id}_key" + (f"_{generation}" if generation > 1 else "")


class Credit(Base):
    """One budget top-up; a caller-given reference makes a retried top-up count once."""

    __tablename__ = "credits"
    __table_args__ = (UniqueConstraint("team_id", "reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.team_id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    reference: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# the admin panel ------------------------------------------------------------------------------


class AdminSession(Base):
    """A logged-in browser. Only the hash of its cookie's token is stored: reading this table
    does not let anyone in. Kept here, not in the process, so every api host behind the edge
    knows every session and a logout ends it everywhere."""

    __tablename__ = "admin_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The name given at login, for the audit log (the admin key itself names nobody).
    actor: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # One message for the next page ("Team created"), then cleared.
    flash: Mapped[str | None] = mapped_column(Text)


class AdminLoginFailures(Base):
    """Wrong admin keys per client address, for the login throttle (shared by every host)."""

    __tablename__ = "admin_login_failures"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """One change made through the admin panel (or a login): who, what, when, from where, and
    how it ended. Never holds a key or a secret."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(64))
    # The first characters of the session's token hash: tells two sessions of one name apart.
    session: Mapped[str | None] = mapped_column(String(12))
    address: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_kind: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict] = mapped_column(JSONB, default=dict)
    # "ok", or the refusal the panel showed.
    outcome: Mapped[str] = mapped_column(Text)
