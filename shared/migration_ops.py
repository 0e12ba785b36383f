"""Migration building blocks shared by the three services' first revisions.

The backbone tables (outbox, processed events, audit log, idempotency keys) are the same in every
schema, and so is the audit trail's append-only guard, which autogenerate cannot express.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


def create_backbone(schema: str) -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("resource_type", sa.String(length=60), nullable=False),
        sa.Column("resource_id", sa.String(length=100), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        schema=schema,
    )
    op.create_index(
        "ix_audit_log_resource",
        "audit_log",
        ["resource_type", "resource_id"],
        unique=False,
        schema=schema,
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("response_body", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("actor", "key", name=op.f("pk_idempotency_keys")),
        schema=schema,
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject_id", sa.String(length=100), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
        schema=schema,
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["id"],
        unique=False,
        schema=schema,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_processed_events")),
        schema=schema,
    )
    make_audit_append_only(schema)


def drop_backbone(schema: str) -> None:
    drop_audit_guard(schema)
    op.drop_table("processed_events", schema=schema)
    op.drop_index(
        "ix_outbox_unpublished",
        table_name="outbox",
        schema=schema,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_table("outbox", schema=schema)
    op.drop_table("idempotency_keys", schema=schema)
    op.drop_index("ix_audit_log_resource", table_name="audit_log", schema=schema)
    op.drop_table("audit_log", schema=schema)


def make_audit_append_only(schema: str) -> None:
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION "{schema}".audit_log_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$;
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER audit_log_no_update_delete
        BEFORE UPDATE OR DELETE ON "{schema}".audit_log
        FOR EACH ROW EXECUTE FUNCTION "{schema}".audit_log_append_only();
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER audit_log_no_truncate
        BEFORE TRUNCATE ON "{schema}".audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".audit_log_append_only();
        """
    )


def drop_audit_guard(schema: str) -> None:
    op.execute(f'DROP TRIGGER IF EXISTS audit_log_no_truncate ON "{schema}".audit_log')
    op.execute(f'DROP TRIGGER IF EXISTS audit_log_no_update_delete ON "{schema}".audit_log')
    op.execute(f'DROP FUNCTION IF EXISTS "{schema}".audit_log_append_only()')
