import base64

import pandas as pd
import pytest

from novamind_core.domain.errors import AuthenticationError, DataProcessingError, NotFoundError
from novamind_core.infrastructure.store.dataset_store import EncryptedDatasetStore, fingerprint
from novamind_core.infrastructure.store.encryption import FileCipher
from novamind_core.infrastructure.store.pseudonymizer import HmacPseudonymizer

KEY_A, KEY_B = b"a" * 32, b"b" * 32


def test_pseudonyms_are_keyed_deterministic_and_opaque():
    a, b = HmacPseudonymizer(KEY_A), HmacPseudonymizer(KEY_B)
    assert a.pseudonym("MRN1234567") == a.pseudonym("MRN1234567")
    assert a.pseudonym("MRN1234567") != b.pseudonym("MRN1234567")
    assert a.pseudonym("MRN1234567") != a.pseudonym("MRN1234568")
    assert "1234567" not in a.pseudonym("MRN1234567")
    series = a.pseudonymize_series(pd.Series(["MRN1", "MRN2", "MRN1"]))
    assert series[0] == series[2] != series[1]


def test_cipher_round_trip_and_tamper_detection():
    cipher = FileCipher(KEY_A)
    blob = cipher.encrypt(b"phq9=23", "v0001/t")
    assert b"phq9" not in blob
    assert cipher.decrypt(blob, "v0001/t") == b"phq9=23"
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(DataProcessingError, match="integrity check failed"):
        cipher.decrypt(tampered, "v0001/t")
    with pytest.raises(DataProcessingError, match="integrity check failed"):
        cipher.decrypt(blob, "v0002/t")  # a file moved to another place in the store
    with pytest.raises(DataProcessingError, match="integrity check failed"):
        FileCipher(KEY_B).decrypt(blob, "v0001/t")


def test_store_versions_round_trip_and_key_mismatch(tmp_path):
    frame = pd.DataFrame({"patient_key": ["p_" + "0" * 24], "phq9": [12.0]})
    store = EncryptedDatasetStore(tmp_path, KEY_A)
    v1 = store.write({"t": frame}, {"patients": 1})
    v2 = store.write({"t": frame.assign(phq9=13.0)}, {"patients": 1})
    assert (v1.version, v2.version) == ("v0001", "v0002")
    pd.testing.assert_frame_equal(store.read("v0001", "t"), frame)
    assert store.latest().version == "v0002"
    assert store.find_by_fingerprint(fingerprint({"t": frame})).version == "v0001"
    with pytest.raises(AuthenticationError, match="another key"):
        EncryptedDatasetStore(tmp_path, KEY_B).read("v0001", "t")
    with pytest.raises(NotFoundError, match="stored versions: v0001, v0002"):
        store.read("v0042", "t")


def test_failed_write_leaves_nothing(tmp_path):
    class Boom:
        columns = ("x",)

    store = EncryptedDatasetStore(tmp_path, KEY_A)
    with pytest.raises(Exception):  # noqa: B017 - any failure must roll back
        store.write({"ok": pd.DataFrame({"x": [1]}), "bad": Boom()}, {})
    assert store.versions() == []
    assert list((tmp_path / "versions").iterdir()) == []


def test_key_must_be_32_bytes_base64():
    from novamind_core.infrastructure.settings import decode_key

    assert decode_key(base64.urlsafe_b64encode(KEY_A).decode()) == KEY_A
    with pytest.raises(ValueError, match="32 bytes"):
        decode_key(base64.urlsafe_b64encode(b"short").decode())


def test_a_store_location_writes_whole_files_readable_by_their_owner(tmp_path):
    from novamind_core.infrastructure.store.location import StoreLocation

    root = StoreLocation.from_uri(str(tmp_path / "root"))
    payloads = root.child("payloads", "m")
    payloads.write_bytes("a.bin", b"one")
    payloads.write_bytes("a.bin", b"two")  # replaced whole
    assert payloads.read_bytes("a.bin") == b"two"
    assert payloads.list() == ["a.bin"] and root.list() == ["payloads"]
    assert (tmp_path / "root" / "payloads" / "m" / "a.bin").stat().st_mode & 0o777 == 0o600
    assert root.list("nowhere") == [] and not root.exists("payloads/m/b.bin")
    root.delete("payloads")
    assert root.list() == []


@pytest.mark.parametrize(
    ("uri", "error", "message"),
    [
        ("s3://", "ConfigurationError", "needs a bucket"),
        ("s3://some-bucket/prefix", "ServiceUnavailableError", "127.0.0.1:9"),
    ],
)
def test_an_object_store_that_cannot_be_used_is_named_at_once(uri, error, message):
    from novamind_core.domain import errors
    from novamind_core.infrastructure.store.location import StoreLocation

    with pytest.raises(getattr(errors, error), match=message):
        StoreLocation.from_uri(
            uri, endpoint_url="http://127.0.0.1:9", access_key="k", secret_key="s"
        )
