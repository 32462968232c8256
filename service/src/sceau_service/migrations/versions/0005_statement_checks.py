"""PostgreSQL: the seals' and log leaves' references checked once per statement

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

A foreign key is checked row by row, each check a query of its own.  The group-commit
writer inserts thousands of seals and log leaves in one statement, and their three foreign
keys (seal -> tenant, seal -> key, log leaf -> seal) were ~40 % of PostgreSQL's time per
seal (docs/benchmarks.md).  On PostgreSQL they are replaced by checks that keep every
guarantee, and add one:

* after each statement inserting seals, one query over the inserted rows: each names a
  key *of its own tenant* (the foreign keys only checked that both exist);
* after each statement inserting log nodes, one query: each leaf names a stored seal;
* what the foreign keys stopped on the other side is refused outright: deleting a tenant,
  a key or a seal, changing a tenant's id, a key's id or tenant.  Keys and seals are never
  deleted (DESIGN.md); tenants never were.

SQLite keeps its foreign keys: there a check is a cheap in-process lookup.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_FOREIGN_KEYS = [
    # (table, name, columns, referred table, referred columns)
    ("seals", "fk_seals_tenant_id_tenants", ["tenant_id"], "tenants", ["id"]),
    ("seals", "fk_seals_keyid_signing_keys", ["keyid"], "signing_keys", ["keyid"]),
    ("log_nodes", "fk_log_nodes_seal_id_seals", ["seal_id"], "seals", ["seal_id"]),
]

# The checks' plans are made once per connection (PL/pgSQL caches them), maybe while the
# tables are empty, when scanning a table whole is the cheapest plan; as it grows, such a
# plan costs a scan of the whole table per statement.  Planner settings on the functions
# keep them to index lookups, one per inserted row, whatever the statistics said.
UPGRADE = r"""
CREATE FUNCTION sceau_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END $$;

CREATE FUNCTION sceau_check_seals() RETURNS trigger LANGUAGE plpgsql
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM inserted i WHERE NOT EXISTS (
      SELECT 1 FROM signing_keys k WHERE k.keyid = i.keyid AND k.tenant_id = i.tenant_id))
  THEN
    RAISE EXCEPTION 'a seal names a key that is not its tenant''s'
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION sceau_check_log_nodes() RETURNS trigger LANGUAGE plpgsql
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM inserted i WHERE i.seal_id IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM seals s WHERE s.seal_id = i.seal_id))
  THEN
    RAISE EXCEPTION 'a log leaf names a seal that is not stored'
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER seals_check AFTER INSERT ON seals REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION sceau_check_seals();
CREATE TRIGGER log_nodes_check AFTER INSERT ON log_nodes REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION sceau_check_log_nodes();

CREATE TRIGGER seals_never_change BEFORE UPDATE OR DELETE ON seals
  FOR EACH ROW EXECUTE FUNCTION sceau_refuse('seals are never changed or deleted');
CREATE TRIGGER signing_keys_never_deleted BEFORE DELETE ON signing_keys
  FOR EACH ROW EXECUTE FUNCTION sceau_refuse('keys are never deleted');
CREATE TRIGGER signing_keys_keep_identity BEFORE UPDATE OF keyid, tenant_id ON signing_keys
  FOR EACH ROW WHEN (OLD.keyid IS DISTINCT FROM NEW.keyid
                     OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id)
  EXECUTE FUNCTION sceau_refuse('a key''s id and tenant never change');
CREATE TRIGGER tenants_never_deleted BEFORE DELETE ON tenants
  FOR EACH ROW EXECUTE FUNCTION sceau_refuse('tenants are never deleted');
CREATE TRIGGER tenants_keep_id BEFORE UPDATE OF id ON tenants
  FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
  EXECUTE FUNCTION sceau_refuse('a tenant''s id never changes');
"""

DOWNGRADE = """
DROP TRIGGER tenants_keep_id ON tenants;
DROP TRIGGER tenants_never_deleted ON tenants;
DROP TRIGGER signing_keys_keep_identity ON signing_keys;
DROP TRIGGER signing_keys_never_deleted ON signing_keys;
DROP TRIGGER seals_never_change ON seals;
DROP TRIGGER log_nodes_check ON log_nodes;
DROP TRIGGER seals_check ON seals;
DROP FUNCTION sceau_check_log_nodes();
DROP FUNCTION sceau_check_seals();
DROP FUNCTION sceau_refuse();
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name, *_ in _FOREIGN_KEYS:
        op.drop_constraint(name, table, type_="foreignkey")
    op.execute(UPGRADE)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(DOWNGRADE)
    for table, name, columns, referred, referred_columns in _FOREIGN_KEYS:
        op.create_foreign_key(name, table, referred, columns, referred_columns)
