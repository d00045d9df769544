"""Copy the evidence files still on this host's disk (its old MEDIA_ROOT) into the encrypted
store, as migration claims 0023 did on the host that ran it; run it once on every web host
that stored uploads. Prints one JSON line: copied, already stored, and the ids still missing
here (they may be on another host)."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand

from claims.storage import files_copy_from_disk


class Command(BaseCommand):
    help = "Copy this host's evidence files from MEDIA_ROOT into the encrypted store."

    def add_arguments(self, parser):
        parser.add_argument("--root", default=str(settings.MEDIA_ROOT), help="the old MEDIA_ROOT")

    def handle(self, *args, root, **options):
        self.stdout.write(json.dumps(files_copy_from_disk(root=root)))
