"""Per-run certificates for TLS scenarios: one trusted endpoint and the ways TLS goes wrong.

Every run makes its own authorities, so no key ever lives in the repository::

    cases = make_cases(tmp_path)              # tmp_path: the caller creates and removes it
    cases.ca_file                             # tmp_path/ca.pem: the only file a credential gets
    cases["expired"].cert_file                # tmp_path/expired.crt, the chain the server sends

The **suite's root CA** signs an **intermediate CA**, which signs the leaves. Only
the root is handed to implementations (as ``caFile``); a credential that is right
about TLS then connects to the ``trusted`` case and refuses every other one. A
second, **untrusted root** is made the same way and never handed over.

The cases follow badssl.com's; each leaf is for ``host`` (default: the Docker host's
address, what implementations connect to, and its other name:
:mod:`~mm_conformance.infra.docker_host`), and for ``localhost`` and ``127.0.0.1``, where
the suite's own listeners serve the ``trusted`` case; as IP or DNS Subject Alternative Names.
On a local engine that is 127.0.0.1 and ``localhost``. Clients match host names against
the SAN only; the Common Name is ignored.

=====================  =========================================================
case                   why a strict credential must refuse it
=====================  =========================================================
trusted                (it must not: full chain up to the suite's root, right host)
self-signed            nobody but the server vouches for it: anyone on the path can make one
expired                a CA stops tracking a certificate (and its key) once it expires
not-yet-valid          a certificate is no proof before the date its CA set
wrong-host             a valid certificate for another site proves nothing about this one
untrusted-root         its chain ends at a root the user never chose to trust
incomplete-chain       without the intermediate there is no path to a trusted root
                       (OpenSSL, Node.js and Go do not fetch missing intermediates)
expired-intermediate   every certificate in the chain must be valid, not only the leaf
issued-by-leaf         a server's own certificate is no CA: else any site could mint any site's
=====================  =========================================================

Cases that clients do *not* refuse the same way are left out on purpose: revoked
certificates (no client checks revocation by default), weak keys and SHA-1
signatures (policy depends on the OpenSSL security level), a CA certificate used
as the leaf (only "X.509 strict" modes reject it).
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mm_conformance.infra.docker_host import LOOPBACK, LOOPBACK_NAME, docker_host

#: The name the ``wrong-host`` leaf is for: ``.invalid`` can never resolve (RFC 2606).
WRONG_HOST = "wrong.host.invalid"

_DAY = datetime.timedelta(days=1)
#: Where make_cases records the host the leaves are for (what clients connect to).
_HOST_FILE = "host.txt"

#: Each case: its name, what is special about its certificate, and why a strict credential refuses
#: it ("": it must not). make_cases makes a chain and key for each.
_CASES: tuple[tuple[str, str, str], ...] = (
    ("trusted", "valid for this host, issued by the suite's intermediate, full chain sent", ""),
    ("self-signed", "a leaf that is its own issuer",
     "nobody but the server vouches for it: anyone on the path can make one"),
    ("expired", "validity ended yesterday", "a CA stops tracking a certificate (and its key) once it expires"),
    ("not-yet-valid", "validity starts tomorrow", "a certificate is no proof before the date its CA set"),
    ("wrong-host", f"valid chain, but for {WRONG_HOST} only",
     "a valid certificate for another site proves nothing about this one"),
    ("untrusted-root", "valid for this host, from a root CA the credential was not given",
     "its chain ends at a root the user never chose to trust"),
    ("incomplete-chain", "issued by the intermediate, but sent without it",
     "without the intermediate there is no path to a trusted root (clients do not fetch it)"),
    ("expired-intermediate", "a valid leaf whose intermediate CA expired yesterday",
     "every certificate in the chain must be valid, not only the leaf"),
    ("issued-by-leaf", "signed by a valid leaf (CA:FALSE, no keyCertSign) of the suite's intermediate",
     "a server's own certificate is no CA: else any site could mint any site's certificates"),
)


@dataclass(frozen=True)
class CertificateCase:
    """One TLS endpoint's certificate: what a server sends and whether a strict client accepts it.

    ``chain_pem`` is what the server sends, leaf first (then any intermediates);
    ``key_pem`` is the leaf's private key. ``host`` is the address clients connect
    to (not necessarily the name in the certificate: see ``wrong-host``).
    """

    name: str
    description: str  #: one line, what is special about the certificate
    why_refused: str  #: one line, why a strict credential must refuse it ("" when it must not)
    expect_strict_ok: bool
    chain_pem: bytes
    key_pem: bytes
    host: str
    cert_file: Path
    key_file: Path


@dataclass(frozen=True)
class _Signer:
    """A certificate and its key, able to sign; ``sent`` is what a server sends after the leaf."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    sent: bytes = b""

    @classmethod
    def of(cls, ca: trustme.CA, *, sent: bool) -> _Signer:
        key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)  # trustme's default key type
        return cls(x509.load_pem_x509_certificate(ca.cert_pem.bytes()), key, ca.cert_pem.bytes() if sent else b"")


@dataclass(frozen=True)
class CertificateAuthorities:
    """The run's authorities (trustme CAs): the suite's root, its intermediate, a root nobody trusts.

    Leaves are signed here rather than by trustme, whose leaves mark the Subject
    Alternative Name critical and allow code signing: strict verifiers (the
    CA/Browser Forum profile, as in ``cryptography.x509.verification``) refuse
    those, and the ``trusted`` case must pass the strictest client.
    """

    root: trustme.CA
    intermediate: trustme.CA
    untrusted_root: trustme.CA

    @classmethod
    def create(cls) -> CertificateAuthorities:
        root = trustme.CA(organization_name="mm-conformance", organization_unit_name="suite root CA")
        untrusted = trustme.CA(organization_name="mm-conformance", organization_unit_name="untrusted root CA")
        return cls(root, root.create_child_ca(), untrusted)

    def issue(self, *identities: str, not_before: datetime.datetime | None = None,
              not_after: datetime.datetime | None = None) -> tuple[bytes, bytes]:
        """A server certificate from the intermediate: (chain PEM, leaf first; key PEM).

        Valid from yesterday for 30 days unless told otherwise. Use it for any
        server a strict credential must accept, e.g. Mattermost terminating TLS.
        """
        return _leaf(_Signer.of(self.intermediate, sent=True), identities, not_before, not_after)


@dataclass(frozen=True)
class CertificateCases:
    """The cases of one run, by name, in a stable order (``trusted`` first); written to ``directory``."""

    directory: Path
    authorities: CertificateAuthorities | None  #: None: read back from the files (read_cases)
    cases: dict[str, CertificateCase]

    @property
    def ca_file(self) -> Path:
        """The suite's root CA: the only file implementations get (protocol ``caFile``)."""
        return self.directory / "ca.pem"

    @property
    def names(self) -> list[str]:
        return list(self.cases)

    def __getitem__(self, name: str) -> CertificateCase:
        return self.cases[name]

    def __iter__(self) -> Iterator[CertificateCase]:
        return iter(self.cases.values())

    def __len__(self) -> int:
        return len(self.cases)


def make_cases(directory: Path, host: str | None = None) -> CertificateCases:
    """Create fresh authorities and every case for ``host`` (None: the Docker host, by its address and
    its other name); write them into ``directory``.

    Writes ``ca.pem`` and ``<case>.crt`` / ``<case>.key`` for each case. The
    caller owns ``directory`` (a temporary one) and removes it.
    """
    authorities = CertificateAuthorities.create()
    names = docker_host().certificate_names if host is None else (host, LOOPBACK_NAME, LOOPBACK)
    host = host or docker_host().address
    identities = tuple(dict.fromkeys(names))
    now = datetime.datetime.now(datetime.UTC)
    root = _Signer.of(authorities.root, sent=False)
    intermediate = _Signer.of(authorities.intermediate, sent=True)
    leaf_only = _Signer(intermediate.certificate, intermediate.key)  # the same issuer, not sent
    untrusted = _Signer.of(authorities.untrusted_root, sent=False)

    chains = {
        "trusted": _leaf(intermediate, identities),
        "self-signed": _leaf(None, identities),
        "expired": _leaf(intermediate, identities, now - 30 * _DAY, now - _DAY),
        "not-yet-valid": _leaf(intermediate, identities, now + _DAY, now + 30 * _DAY),
        "wrong-host": _leaf(intermediate, (WRONG_HOST,)),
        "untrusted-root": _leaf(untrusted, identities),
        "incomplete-chain": _leaf(leaf_only, identities),
        "expired-intermediate": _leaf(_expired_intermediate(root, now), identities),
        "issued-by-leaf": _leaf(_leaf_as_issuer(intermediate), identities),
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.pem").write_bytes(authorities.root.cert_pem.bytes())
    for name, (chain, key) in chains.items():
        key_file = directory / f"{name}.key"
        key_file.touch(mode=0o600)  # never readable by others, not even for an instant
        key_file.write_bytes(key)
        (directory / f"{name}.crt").write_bytes(chain)
    (directory / _HOST_FILE).write_text(host)
    return read_cases(directory, authorities)


def read_cases(directory: Path, authorities: CertificateAuthorities | None = None) -> CertificateCases:
    """The cases :func:`make_cases` wrote into ``directory``: how processes that share a deployment's
    extras (see infra.shared_extras) share its certificates. Only the files are read: no authority
    can issue more."""
    host = (directory / _HOST_FILE).read_text()
    cases = {name: CertificateCase(name, description, why, not why, (directory / f"{name}.crt").read_bytes(),
                                   (directory / f"{name}.key").read_bytes(), host,
                                   directory / f"{name}.crt", directory / f"{name}.key")
             for name, description, why in _CASES}
    return CertificateCases(directory, authorities, cases)


# --- signing (cryptography; ECDSA P-256 and SHA-256 throughout, like trustme) ------------


def _leaf(issuer: _Signer | None, identities: tuple[str, ...], not_before: datetime.datetime | None = None,
          not_after: datetime.datetime | None = None) -> tuple[bytes, bytes]:
    """A TLS server certificate for ``identities`` (self-signed when ``issuer`` is None): (chain, key).

    The profile a public CA issues today: SAN not critical, serverAuth only,
    digitalSignature only (an EC key cannot encipher).
    """
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name("server" if issuer is not None else "self-signed server")
    issuer_name, issuer_key = (subject, key) if issuer is None else (issuer.certificate.subject, issuer.key)
    certificate = (
        _builder(subject, key, issuer_name, issuer_key, not_before or now - _DAY, not_after or now + 30 * _DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_general_name(i) for i in identities]), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )
    return _pem(certificate) + (issuer.sent if issuer is not None else b""), _key_pem(key)


def _expired_intermediate(root: _Signer, now: datetime.datetime) -> _Signer:
    """An intermediate CA of the suite's root, like trustme's, that expired yesterday."""
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        _builder(_name("expired intermediate CA"), key, root.certificate.subject, root.key,
                 now - 60 * _DAY, now - _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .sign(root.key, hashes.SHA256())
    )
    return _Signer(certificate, key, _pem(certificate))


def _leaf_as_issuer(intermediate: _Signer) -> _Signer:
    """A perfectly valid leaf of the suite's intermediate (for another name), used to sign.

    The server sends the whole path, so only the middle certificate's CA:FALSE
    (and its missing keyCertSign) makes the chain wrong.
    """
    chain, key_pem = _leaf(intermediate, ("issuer.leaf.invalid",))
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return _Signer(x509.load_pem_x509_certificates(chain)[0], key, chain)


def _builder(subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
             issuer_key: ec.EllipticCurvePrivateKey, not_before: datetime.datetime,
             not_after: datetime.datetime) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                       critical=False)
    )


def _general_name(identity: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(identity))
    except ValueError:
        return x509.DNSName(identity)


def _name(unit: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mm-conformance"),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit)])


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())
