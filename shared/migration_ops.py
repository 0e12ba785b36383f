"""DDL that autogenerate cannot express: the audit trail's append-only guard."""

from alembic import op


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
