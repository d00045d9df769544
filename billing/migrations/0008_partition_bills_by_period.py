"""billing_bill becomes a table partitioned by period: each period's ten million bills go into
a fresh partition with a small index, instead of one index that grows all year.

Django's model is unchanged (it still sees `id` as the key); in the database the primary key
is (id, period_id), as partitioning requires. Bills already present are kept, attached as the
DEFAULT partition with a CHECK that lets PostgreSQL skip scanning it when later partitions are
created. billing.apportion creates each period's partition when it prepares the period."""

from django.db import migrations

FORWARD = """
ALTER TABLE billing_bill RENAME TO billing_bill_legacy;
ALTER TABLE billing_bill_legacy RENAME CONSTRAINT one_bill_per_member TO one_bill_per_member_legacy;

CREATE SEQUENCE billing_bill_id_seq_p;
SELECT setval('billing_bill_id_seq_p', coalesce((SELECT max(id) FROM billing_bill_legacy), 0) + 1,
              false);

CREATE TABLE billing_bill (
    id bigint NOT NULL DEFAULT nextval('billing_bill_id_seq_p'),
    period_id bigint NOT NULL,
    membership_id bigint NOT NULL,
    cases_count integer NOT NULL
        CONSTRAINT billing_bill_cases_count_check CHECK (cases_count >= 0),
    gross_fen bigint NOT NULL,
    waived_fen bigint NOT NULL,
    capped_fen bigint NOT NULL,
    charged_fen bigint NOT NULL,
    year_to_date_before_fen bigint NULL,
    paid_at timestamp with time zone NULL,
    debit_attempts smallint NOT NULL DEFAULT 0
        CONSTRAINT billing_bill_debit_attempts_check CHECK (debit_attempts >= 0),
    next_debit_at timestamp with time zone NULL,
    last_debit_error varchar(200) NOT NULL DEFAULT '',
    PRIMARY KEY (id, period_id),
    CONSTRAINT one_bill_per_member UNIQUE (membership_id, period_id),
    CONSTRAINT bill_adds_up CHECK (gross_fen = charged_fen + waived_fen + capped_fen)
) PARTITION BY LIST (period_id);
ALTER SEQUENCE billing_bill_id_seq_p OWNED BY billing_bill.id;

DO $$
DECLARE last_period bigint;
DECLARE legacy_pkey text;
BEGIN
    SELECT max(period_id) INTO last_period FROM billing_bill_legacy;
    IF last_period IS NULL THEN
        DROP TABLE billing_bill_legacy;
    ELSE
        ALTER TABLE billing_bill_legacy ALTER COLUMN id DROP IDENTITY IF EXISTS;
        EXECUTE format('ALTER TABLE billing_bill_legacy ADD CONSTRAINT billing_bill_legacy_periods '
                       'CHECK (period_id <= %s)', last_period);
        CREATE UNIQUE INDEX billing_bill_legacy_id_period ON billing_bill_legacy (id, period_id);
        -- The partition's key will be (id, period_id), as on the parent.
        SELECT conname INTO legacy_pkey FROM pg_constraint
         WHERE conrelid = 'billing_bill_legacy'::regclass AND contype = 'p';
        EXECUTE format('ALTER TABLE billing_bill_legacy DROP CONSTRAINT %I', legacy_pkey);
        ALTER TABLE billing_bill ATTACH PARTITION billing_bill_legacy DEFAULT;
    END IF;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0007_chunks_done_counted")]

    operations = [migrations.RunSQL(FORWARD, migrations.RunSQL.noop)]
