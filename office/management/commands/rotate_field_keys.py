"""Re-encrypt the personal data at rest under the newest key (the first of MUTUAL_FIELD_KEYS):
national ids, medical text and evidence files; and encrypt any field still held in clear
(rows a bulk load wrote). In batches of their own
short transactions; a run that stopped is taken up by running it again (a value the newest
key already opens is left alone). Prints one JSON line; exits 1 if a value opens under no key.

    MUTUAL_FIELD_KEYS=new,old manage.py rotate_field_keys    # then drop `old`"""

import json
import time

from django.core.management.base import BaseCommand, CommandError

from claims.storage import stored_chunks_rotate
from mutual.core.personal_data import (
    BATCH,
    UnreadableToken,
    models_with_personal_data,
    rotate_model,
    seal_model,
)


class Command(BaseCommand):
    help = "Re-encrypt national ids and medical text under the newest of MUTUAL_FIELD_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=BATCH, help="rows per transaction")

    def handle(self, *args, batch, **options):
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        started = time.perf_counter()
        tables = {}
        for model in models_with_personal_data():
            try:
                sealed = seal_model(model, batch=batch)
                rotated = rotate_model(model, batch=batch)
            except UnreadableToken as error:
                raise CommandError(str(error)) from None
            tables[model._meta.db_table] = {"sealed": sealed, "rotated": rotated}
        try:
            chunks = stored_chunks_rotate()  # its own batch: a chunk is up to 1 MiB
        except UnreadableToken as error:
            raise CommandError(str(error)) from None
        tables["claims_storedchunk"] = {"sealed": 0, "rotated": chunks}
        seconds = round(time.perf_counter() - started, 2)
        self.stdout.write(json.dumps({"tables": tables, "seconds": seconds}))
