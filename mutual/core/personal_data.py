"""Personal data at rest: national ids and medical text encrypted, a national id found by its
blind index.

- Encryption is django-fernet-encrypted-fields' (Jazzband): Fernet (AES-128-CBC with
  HMAC-SHA256) under keys derived from SECRET_KEY and each of settings.SALT_KEY (from
  MUTUAL_FIELD_KEYS), newest first. The database, its backups and its replicas hold tokens only.
- A blind index is HMAC-SHA256 of the normalised value under MUTUAL_BLIND_INDEX_KEY: exact
  search and uniqueness without the value, and without the encryption key.
- `seal_model` encrypts whatever a table still holds in clear (the migration, and rows a
  set-based insert wrote), `rotate_model` re-encrypts under the newest key; both in batches of
  their own transactions, keyset by primary key, resumable by running again.

This module imports no app: the models declare their fields with the classes here, and the
passes find them by class."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import connection, models, transaction
from django.dispatch import receiver
from encrypted_fields import fields as encrypted
from encrypted_fields.fields import EncryptedFieldMixin

__all__ = [
    "BlindIndexField",
    "EncryptedCharField",
    "EncryptedTextField",
    "blind_index",
    "normalise_national_id",
    "rotate_model",
    "seal_model",
]

# Every Fernet token starts so (version byte 0x80, then a timestamp's zero high bytes); no
# national id or diagnosis does. A set-based insert may write a placeholder blind index with
# this prefix for `seal_model` to replace.
TOKEN_PREFIX = "gAAAAA"
PENDING_INDEX_PREFIX = "clear:"
MIN_KEY_LENGTH = 32
BATCH = 10_000


def normalise_national_id(value: str) -> str:
    """Spaces anywhere and letter case aside: `11010119900307123x ` is `11010119900307123X`."""
    return "".join(value.split()).upper()


def _blind_index_key() -> bytes:
    key = settings.MUTUAL_BLIND_INDEX_KEY
    if not key:
        raise ImproperlyConfigured("MUTUAL_BLIND_INDEX_KEY is not set")
    return key.encode()


def blind_index(value: str, *, purpose: str = "national-id") -> str:
    """The hex HMAC-SHA256 of the normalised value, separated by purpose."""
    message = purpose.encode() + b"\0" + normalise_national_id(value).encode()
    return hmac.new(_blind_index_key(), message, hashlib.sha256).hexdigest()


def key_problems() -> list[str]:
    """What is wrong with the keys of personal data, for the start-up checks (DEBUG off)."""
    problems = []
    salts = settings.SALT_KEY if isinstance(settings.SALT_KEY, list) else [settings.SALT_KEY]
    if not [salt for salt in salts if salt]:
        problems.append("MUTUAL_FIELD_KEYS is not set")
    elif any(len(salt) < MIN_KEY_LENGTH or salt.startswith("dev-only") for salt in salts):
        problems.append(f"each of MUTUAL_FIELD_KEYS must be random, of {MIN_KEY_LENGTH}+ chars")
    index_key = settings.MUTUAL_BLIND_INDEX_KEY or ""
    if len(index_key) < MIN_KEY_LENGTH or index_key.startswith("dev-only"):
        problems.append(f"MUTUAL_BLIND_INDEX_KEY must be random, of {MIN_KEY_LENGTH}+ chars")
    return problems


class UnreadableToken(Exception):
    """A value that none of the configured keys decrypts."""


class _Strict:
    """What the library's fields lack, for data that must never be silently wrong:

    - a token that no configured key opens is an error (UnreadableToken), not a value: the
      library would hand the token on as the plaintext, and the next save would encrypt the
      token again and index it as the id (a host with old keys in a rolling restart);
    - a value in clear (no token prefix) is read as it is: rows not sealed yet;
    - a form's clean validates the value as given, without the library's flag on the field
      object (shared by every thread of a process);
    - an empty value stays the empty string (the library would store NULL, which a required
      column refuses); it tells nothing."""

    def to_python(self, value):
        if isinstance(value, str) and value.startswith(TOKEN_PREFIX):
            try:
                value = self.f.decrypt(value.encode()).decode()
            except InvalidToken:
                raise UnreadableToken(
                    f"{self.model._meta.db_table}.{self.column}: no key in MUTUAL_FIELD_KEYS "
                    "(with DJANGO_SECRET_KEY and its fallbacks) opens a stored value"
                ) from None
        return models.Field.to_python(self, value)

    def clean(self, value, model_instance):
        self.validate(value, model_instance)
        self.run_validators(value)
        return value

    def get_prep_value(self, value):
        if value == "":
            return ""
        return super().get_prep_value(value)


class EncryptedCharField(_Strict, encrypted.EncryptedCharField):
    pass


class EncryptedTextField(_Strict, encrypted.EncryptedTextField):
    pass


class BlindIndexField(models.CharField):
    """The blind index of another field of the same row (`of`), set on every save."""

    def __init__(self, *args, of: str = "national_id", **kwargs):
        self.of = of
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["of"] = self.of
        if kwargs.get("max_length") == 64:
            del kwargs["max_length"]
        if kwargs.get("editable") is False:
            del kwargs["editable"]
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        source = getattr(model_instance, self.of)
        value = blind_index(source) if source else None
        setattr(model_instance, self.attname, value)
        return value


def encrypted_fields(model) -> list[EncryptedFieldMixin]:
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedFieldMixin)]


def _index_fields(model) -> list[BlindIndexField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, BlindIndexField)]


@receiver(setting_changed)
def _forget_derived_keys(*, setting, **kwargs):
    """The library derives its keys once per field: a changed key (a test, a rotation in
    one process) must be derived again."""
    if setting not in {"SALT_KEY", "SECRET_KEY", "SECRET_KEY_FALLBACKS"}:
        return
    from django.apps import apps

    for field in [_KEYS] + [f for model in apps.get_models() for f in encrypted_fields(model)]:
        field.__dict__.pop("keys", None)
        field.__dict__.pop("f", None)


def _batches(model, columns: list[str], *, batch: int, after: int | None = None):
    """Each batch of rows (pk first) after `after`, locked for its own short transaction, in
    pk order."""
    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)
    selected = ", ".join(connection.ops.quote_name(c) for c in columns)
    after = -(2**63) if after is None else after
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {pk}, {selected} FROM {table}"
                f" WHERE {pk} > %s ORDER BY {pk} LIMIT %s FOR UPDATE",
                [after, batch],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            yield cursor, rows
            after = rows[-1][0]


def _update(cursor, model, columns: list[str], changed: list[tuple]) -> None:
    if not changed:
        return
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    sets = ", ".join(f"{quote(c)} = v.c{i}" for i, c in enumerate(columns))
    names = ", ".join(f"c{i}" for i in range(len(columns)))
    arrays = ", ".join("%s::text[]" for _ in columns)
    cursor.execute(
        f"UPDATE {table} t SET {sets} FROM unnest(%s::bigint[], {arrays}) AS v(pk, {names})"
        f" WHERE t.{pk} = v.pk",
        [[row[0] for row in changed]]
        + [[row[i + 1] for row in changed] for i in range(len(columns))],
    )


def seal_model(
    model,
    *,
    batch: int = BATCH,
    after: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Encrypt every value of `model`'s encrypted fields still in clear (in the rows whose pk
    is above `after`, if given), and set the blind indexes of the rows sealed (or left with a
    pending or no index). Returns the rows changed."""
    encrypted = encrypted_fields(model)
    indexes = _index_fields(model)
    if not encrypted:
        return 0
    position = {f.name: i for i, f in enumerate(encrypted)}
    columns = [f.column for f in encrypted] + [f.column for f in indexes]
    sealed = 0
    for cursor, rows in _batches(model, columns, batch=batch, after=after):
        changed = []
        for row in rows:
            values = list(row[1:])
            plain = {}
            for i, field in enumerate(encrypted):
                value = values[i]
                if value and not value.startswith(TOKEN_PREFIX):
                    plain[field.name] = value
                    values[i] = field.f.encrypt(value.encode()).decode()
            for j, field in enumerate(indexes, start=len(encrypted)):
                current = values[j]
                if field.of in plain or not current or current.startswith(PENDING_INDEX_PREFIX):
                    i = position[field.of]
                    source = plain.get(field.of) or encrypted[i].to_python(values[i])
                    values[j] = blind_index(source) if source else None
            touched = values != list(row[1:])
            if touched:
                changed.append((row[0], *values))
        _update(cursor, model, columns, changed)
        sealed += len(changed)
        if progress:
            progress(len(rows))
    return sealed


def rotate_model(
    model, *, batch: int = BATCH, progress: Callable[[int], None] | None = None
) -> int:
    """Re-encrypt under the newest key every value that it does not open yet (so a run that
    stopped is taken up by running again). Returns the values re-encrypted."""
    encrypted = encrypted_fields(model)
    if not encrypted:
        return 0
    keys = encrypted[0].keys  # the same settings derive every field's keys
    newest, every = Fernet(keys[0]), MultiFernet([Fernet(key) for key in keys])
    columns = [f.column for f in encrypted]
    rotated = 0
    for cursor, rows in _batches(model, columns, batch=batch):
        changed = []
        for row in rows:
            values = list(row[1:])
            touched = False
            for i in range(len(encrypted)):
                token = values[i]
                if not token or not token.startswith(TOKEN_PREFIX):
                    continue
                try:
                    newest.decrypt(token.encode())
                except InvalidToken:
                    try:
                        values[i] = every.rotate(token.encode()).decode()
                    except InvalidToken:
                        raise UnreadableToken(
                            f"{model._meta.db_table} #{row[0]}: no key in MUTUAL_FIELD_KEYS "
                            "(with DJANGO_SECRET_KEY and its fallbacks) opens it"
                        ) from None
                    touched = True
                    rotated += 1
            if touched:
                changed.append((row[0], *values))
        _update(cursor, model, columns, changed)
        if progress:
            progress(len(rows))
    return rotated


_KEYS = encrypted.EncryptedTextField()  # derives the keys from the settings, as every field


def fernet() -> MultiFernet:
    """The fields' keys, for bytes that are not a field (evidence files): the newest
    encrypts, every one decrypts."""
    return MultiFernet([Fernet(key) for key in _KEYS.keys])


def newest_fernet() -> Fernet:
    return Fernet(_KEYS.keys[0])


def models_with_personal_data() -> list:
    from django.apps import apps

    return [model for model in apps.get_models() if encrypted_fields(model)]
