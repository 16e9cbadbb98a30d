# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""A throw-away PKI for the TLS and certificate tests: a CA, a server certificate for 127.0.0.1 and RSA client
certificates (cryptography only; the ``pki`` fixture is in ``tests/unit/conftest.py``)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import ipaddress
import os
import ssl


class Pki(object):
    """CA + server certificate for 127.0.0.1 + helpers to mint RSA client certificates (cryptography only)."""

    def __init__(self, directory):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        self.directory = str(directory)
        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u'msgraph.grants unit-test CA')])
        ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
                   .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
                   .sign(ca_key, hashes.SHA256()))
        server_key = ec.generate_private_key(ec.SECP256R1())
        server_cert = (x509.CertificateBuilder()
                       .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u'127.0.0.1')]))
                       .issuer_name(ca_name).public_key(server_key.public_key())
                       .serial_number(x509.random_serial_number())
                       .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                       .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(u'127.0.0.1')),
                                                                   x509.DNSName(u'localhost')]), critical=False)
                       .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                       .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                       .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
                       .sign(ca_key, hashes.SHA256()))
        self.ca_path = os.path.join(self.directory, 'ca.pem')
        self.server_cert_path = os.path.join(self.directory, 'server.pem')
        self.server_key_path = os.path.join(self.directory, 'server.key')
        with open(self.ca_path, 'wb') as f:
            f.write(ca_cert.public_bytes(serialization.Encoding.PEM))
        with open(self.server_cert_path, 'wb') as f:
            f.write(server_cert.public_bytes(serialization.Encoding.PEM))
        with open(self.server_key_path, 'wb') as f:
            f.write(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))

    def server_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.server_cert_path, self.server_key_path)
        return ctx

    def client_certificate(self, name='client', password=None, fmt='pem', key_first=False):
        """Write an RSA client certificate (self-signed) as PEM (cert + key) or PFX; return (path, cert, key)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.serialization import pkcs12
        from cryptography.x509.oid import NameOID
        now = datetime.datetime.now(datetime.timezone.utc)
        key = _rsa_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u'msgraph.grants %s' % name)])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
        encryption = (serialization.BestAvailableEncryption(password.encode('utf-8')) if password
                      else serialization.NoEncryption())
        if fmt == 'pfx':
            data = pkcs12.serialize_key_and_certificates(name.encode('utf-8'), key, cert, None, encryption)
            path = os.path.join(self.directory, '%s.pfx' % name)
        else:
            key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
            cert_pem = cert.public_bytes(serialization.Encoding.PEM)
            data = (key_pem + cert_pem) if key_first else (cert_pem + key_pem)
            path = os.path.join(self.directory, '%s.pem' % name)
        with open(path, 'wb') as f:
            f.write(data)
        assert isinstance(key, rsa.RSAPrivateKey)
        return path, cert, key


_RSA_KEYS = []


def _rsa_key():
    """RSA generation is the slow part of these tests: a small pool of keys is reused across tests."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    if len(_RSA_KEYS) < 3:
        _RSA_KEYS.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return _RSA_KEYS[-1]
    key = _RSA_KEYS.pop(0)
    _RSA_KEYS.append(key)
    return key
