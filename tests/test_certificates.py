"""The per-run certificate cases, checked offline: what each certificate is, and who accepts it.

Two verifiers judge every case without any network: OpenSSL (through :mod:`ssl`,
in a handshake between two in-memory TLS objects, as the reference does it) and
``cryptography``'s strict CA/Browser Forum verifier. Both must accept ``trusted``
and refuse everything else.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from mm_conformance.infra.certificates import WRONG_HOST, CertificateCase, CertificateCases, make_cases

NOW = datetime.datetime.now(datetime.timezone.utc)
LOOPBACK = ipaddress.ip_address("127.0.0.1")
EXPECTED = ["trusted", "self-signed", "expired", "not-yet-valid", "wrong-host", "untrusted-root",
            "incomplete-chain", "expired-intermediate", "issued-by-leaf"]


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> CertificateCases:
    return make_cases(tmp_path_factory.mktemp("certificates"))


def chain(case: CertificateCase) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(case.chain_pem)


def subject_of(pem: bytes) -> x509.Name:
    return x509.load_pem_x509_certificate(pem).subject


def sans(certificate: x509.Certificate) -> set[object]:
    extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return set(extension.value.get_values_for_type(x509.DNSName)) | set(
        extension.value.get_values_for_type(x509.IPAddress))


# --- the set and the files ---------------------------------------------------------------


def test_only_trusted_is_expected_to_pass_a_strict_client(cases: CertificateCases) -> None:
    assert cases.names == EXPECTED
    assert [c.name for c in cases if c.expect_strict_ok] == ["trusted"]
    for case in cases:
        assert case.description and "\n" not in case.description
        assert bool(case.why_refused) != case.expect_strict_ok, case.name


def test_only_the_suite_root_and_the_cases_are_written(cases: CertificateCases) -> None:
    expected = {"ca.pem", "host.txt"} | {f"{n}.{ext}" for n in EXPECTED for ext in ("crt", "key")}
    assert {p.name for p in cases.directory.iterdir()} == expected
    for case in cases:
        assert case.cert_file.read_bytes() == case.chain_pem
        assert case.key_file.read_bytes() == case.key_pem
        assert case.key_file.stat().st_mode & 0o077 == 0, "private keys are readable by their owner only"


def test_cases_read_back_from_their_directory_are_the_same(cases: CertificateCases) -> None:
    """How the processes sharing a deployment's extras share its certificates (infra.shared_extras)."""
    from mm_conformance.infra.certificates import read_cases

    again = read_cases(cases.directory)
    assert again.authorities is None, "only files are read: nothing can issue more"
    assert again.cases == cases.cases
    assert again.ca_file == cases.ca_file


def test_ca_file_is_the_suite_root_alone(cases: CertificateCases) -> None:
    (root,) = x509.load_pem_x509_certificates(cases.ca_file.read_bytes())
    assert root.subject == root.issuer == subject_of(cases.authorities.root.cert_pem.bytes())
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert root.subject != subject_of(cases.authorities.untrusted_root.cert_pem.bytes())


def test_every_key_belongs_to_its_leaf(cases: CertificateCases) -> None:
    for case in cases:
        key = serialization.load_pem_private_key(case.key_pem, password=None)
        assert key.public_key() == chain(case)[0].public_key(), case.name


# --- each certificate's properties ----------------------------------------------------------


def test_leaves_are_for_the_loopback_address_except_wrong_host(cases: CertificateCases) -> None:
    for case in cases:
        leaf = chain(case)[0]
        expected = {WRONG_HOST} if case.name == "wrong-host" else {LOOPBACK, "localhost"}
        assert sans(leaf) == expected, case.name
        assert case.host == "127.0.0.1"


def test_leaves_have_the_profile_a_public_ca_issues(cases: CertificateCases) -> None:
    # A critical SAN or a code-signing EKU would make strict clients refuse even "trusted".
    for case in cases:
        leaf = chain(case)[0]
        assert not leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical
        assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_validity_dates(cases: CertificateCases) -> None:
    def valid_now(certificate: x509.Certificate) -> bool:
        return certificate.not_valid_before_utc <= NOW <= certificate.not_valid_after_utc

    assert chain(cases["expired"])[0].not_valid_after_utc < NOW
    assert chain(cases["not-yet-valid"])[0].not_valid_before_utc > NOW
    leaf, intermediate = chain(cases["expired-intermediate"])
    assert valid_now(leaf) and intermediate.not_valid_after_utc < NOW
    for name in ("trusted", "self-signed", "wrong-host", "untrusted-root", "incomplete-chain", "issued-by-leaf"):
        assert all(valid_now(c) for c in chain(cases[name])), name


def test_who_issued_what_and_what_is_sent(cases: CertificateCases) -> None:
    root = subject_of(cases.authorities.root.cert_pem.bytes())
    intermediate = subject_of(cases.authorities.intermediate.cert_pem.bytes())
    untrusted = subject_of(cases.authorities.untrusted_root.cert_pem.bytes())

    leaf, sent_intermediate = chain(cases["trusted"])
    assert (leaf.issuer, sent_intermediate.subject, sent_intermediate.issuer) == (intermediate, intermediate, root)

    (leaf,) = chain(cases["self-signed"])
    assert leaf.issuer == leaf.subject
    leaf.verify_directly_issued_by(leaf)  # signed with its own key

    (leaf,) = chain(cases["incomplete-chain"])
    assert leaf.issuer == intermediate  # the intermediate exists, it is just not sent

    (leaf,) = chain(cases["untrusted-root"])
    assert leaf.issuer == untrusted != root

    leaf, expired_ca = chain(cases["expired-intermediate"])
    assert leaf.issuer == expired_ca.subject and expired_ca.issuer == root
    assert expired_ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    leaf, issuing_leaf, sent_intermediate = chain(cases["issued-by-leaf"])
    leaf.verify_directly_issued_by(issuing_leaf)
    assert not issuing_leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not issuing_leaf.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert issuing_leaf.issuer == sent_intermediate.subject == intermediate

    for name in ("expired", "not-yet-valid", "wrong-host"):
        assert [c.issuer for c in chain(cases[name])] == [intermediate, root], name


def test_host_names_another_address(tmp_path: Path) -> None:
    other = make_cases(tmp_path, host="mattermost.test")
    assert sans(chain(other["trusted"])[0]) == {"mattermost.test", "localhost", LOOPBACK}
    assert other["trusted"].host == "mattermost.test"


# --- who accepts them -------------------------------------------------------------------------


def openssl_verdict(case: CertificateCase, ca_file: Path) -> str:
    """"ok" or OpenSSL's reason, from a TLS handshake between two in-memory endpoints."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(case.cert_file, case.key_file)
    client_context = ssl.create_default_context(cafile=str(ca_file))
    to_client, to_server = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_context.wrap_bio(to_client, to_server, server_hostname=case.host)
    server = server_context.wrap_bio(to_server, to_client, server_side=True)
    for _ in range(10):
        try:
            client.do_handshake()
            return "ok"
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLCertVerificationError as error:
            return error.verify_message
        try:
            server.do_handshake()
        except ssl.SSLWantReadError:
            pass
    raise AssertionError(f"{case.name}: the in-memory handshake did not finish")


def test_openssl_accepts_only_trusted(cases: CertificateCases) -> None:
    # The text before a comma is OpenSSL's; Python appends details after it.
    verdicts = {case.name: openssl_verdict(case, cases.ca_file).split(",")[0] for case in cases}
    assert verdicts == {
        "trusted": "ok",
        "self-signed": "self-signed certificate",
        "expired": "certificate has expired",
        "not-yet-valid": "certificate is not yet valid",
        "wrong-host": "IP address mismatch",
        "untrusted-root": "unable to get local issuer certificate",
        "incomplete-chain": "unable to get local issuer certificate",
        "expired-intermediate": "certificate has expired",
        "issued-by-leaf": "invalid CA certificate",
    }


def test_the_strict_cabf_verifier_accepts_only_trusted(cases: CertificateCases) -> None:
    store = verification.Store(x509.load_pem_x509_certificates(cases.ca_file.read_bytes()))
    verifier = (verification.PolicyBuilder().store(store).time(NOW)
                .build_server_verifier(verification.IPAddress(LOOPBACK)))
    accepted = []
    for case in cases:
        leaf, *intermediates = chain(case)
        try:
            verifier.verify(leaf, intermediates)
            accepted.append(case.name)
        except verification.VerificationError:
            pass
    assert accepted == ["trusted"]
