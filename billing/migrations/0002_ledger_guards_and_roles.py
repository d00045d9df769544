from django.db import migrations

from mutual.core.roles import grant

GUARDS = """
CREATE FUNCTION billing_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only (% on % refused); post a reversal instead',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER billing_postingline_append_only BEFORE UPDATE OR DELETE ON billing_postingline
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_append_only();
CREATE TRIGGER billing_posting_append_only BEFORE UPDATE OR DELETE ON billing_posting
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_append_only();

-- Checked at commit, so a posting's lines can be inserted one by one but never left unbalanced.
CREATE FUNCTION billing_posting_balances() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE difference bigint;
BEGIN
    SELECT sum(debit_fen) - sum(credit_fen) INTO difference
      FROM billing_postingline WHERE posting_id = NEW.posting_id;
    IF difference <> 0 THEN
        RAISE EXCEPTION 'posting % does not balance (Dr - Cr = %)', NEW.posting_id, difference
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER billing_posting_balances AFTER INSERT ON billing_postingline
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION billing_posting_balances();
"""
UNDO = """
DROP TRIGGER billing_posting_balances ON billing_postingline;
DROP FUNCTION billing_posting_balances();
DROP TRIGGER billing_postingline_append_only ON billing_postingline;
DROP TRIGGER billing_posting_append_only ON billing_posting;
DROP FUNCTION billing_ledger_append_only();
"""
FINANCE = [
    "billing.view_account",
    "billing.view_posting",
    "billing.view_postingline",
    "billing.view_apportionmentperiod",
    "billing.add_apportionmentperiod",
    "billing.change_apportionmentperiod",
    "billing.view_bill",
    "billing.view_promotion",
    "billing.add_promotion",
    "billing.change_promotion",
]


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial"), ("claims", "0002_roles_schedule_append_only")]

    operations = [
        migrations.RunSQL(GUARDS, UNDO),
        migrations.RunPython(
            lambda apps, editor: grant(apps, editor, {"finance": FINANCE}),
            migrations.RunPython.noop,
        ),
    ]
