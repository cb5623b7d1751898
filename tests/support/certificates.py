"""PEM certificates for tests, dated from credctl's clock (which `--clock-offset` moves)."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from credctl import clock


def not_after(days: float) -> datetime:
    """The moment `days` from now, to the second (as a certificate holds it)."""
    return (clock.now() + timedelta(days=days)).replace(microsecond=0)


def certificate(days: float, name: str = "example.test") -> str:
    """A self-signed PEM certificate that expires `days` from now (negative: expired)."""
    return certificate_until(not_after(days), name)


def certificate_until(moment: datetime, name: str = "example.test") -> str:
    """A self-signed PEM certificate whose notAfter is `moment` (to the second)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    built = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(clock.now() - timedelta(days=400))
        .not_valid_after(moment)
        .sign(key, hashes.SHA256())
    )
    return built.public_bytes(serialization.Encoding.PEM).decode("ascii")


def private_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
