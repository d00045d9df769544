"""The pseudonyms' HMAC with its pads hashed once is RFC 2104's HMAC-SHA256."""

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from mutual.core.keyed_hash import PrefixedHmac, hmac_key_block


@given(
    key=st.binary(max_size=130),
    prefix=st.binary(max_size=8),
    messages=st.lists(st.binary(max_size=40), max_size=4),
)
def test_prefixed_hmac_is_hmac_sha256_of_prefix_and_message(key, prefix, messages):
    keyed = PrefixedHmac(key, prefix=prefix)
    for message in messages:  # the pads are copied, never used up
        assert keyed.digest(message) == hmac.digest(key, prefix + message, hashlib.sha256)
    assert PrefixedHmac(hmac_key_block(key)).digest(b"x") == hmac.digest(key, b"x", "sha256")
