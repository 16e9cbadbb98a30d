# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""``auth_method: certificate``: a client certificate (PEM or PFX) of the application registration (MSAL confidential
client, which signs the client assertion)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.msgraph.grants.plugins.module_utils._auth_method_base import ConfidentialClientMethod
from ansible_collections.msgraph.grants.plugins.module_utils._auth_settings import option_sources
from ansible_collections.msgraph.grants.plugins.module_utils._errors import ConfigError
from ansible_collections.msgraph.grants.plugins.module_utils._redaction import register_secret

# cryptography is needed for certificates only: it is imported on first use, which keeps ~80 ms off the start of
# every other module run (docs/performance.md).
_CRYPTOGRAPHY = {}


def _cryptography():
    """The cryptography modules the certificate loaders use; raises ImportError when the library is missing."""
    if not _CRYPTOGRAPHY:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.serialization import pkcs12
        _CRYPTOGRAPHY.update(x509=x509, hashes=hashes, serialization=serialization, pkcs12=pkcs12, rsa=rsa)
    return _CRYPTOGRAPHY


def cryptography_import_error():
    """None when cryptography imports, else the traceback (for missing_required_lib)."""
    try:
        _cryptography()
    except ImportError:
        import traceback
        return traceback.format_exc()
    return None


class CertificateMethod(ConfidentialClientMethod):
    NAME = 'certificate'
    LABEL = 'a client certificate'
    NEEDS = ('client_certificate_path', 'tenant_id', 'client_id')
    AUTO_OPTION = 'client_certificate_path'
    AUTO_NOUN = 'client certificate'
    FILE_OPTION = 'client_certificate_path'

    def missing_libraries(self):
        missing = super(CertificateMethod, self).missing_libraries()
        error = cryptography_import_error()
        if error:
            missing.append(('cryptography', error))
        return missing

    def credential(self, settings):
        return load_certificate_credential(settings.client_certificate_path, settings.client_certificate_password)

    def cache_credential(self, settings):
        # The path stands for the certificate.
        return 'certificate:' + settings.client_certificate_path


def load_certificate_credential(path, password=None):
    """MSAL ``client_credential`` for a certificate file.

    PEM (certificate + private key, any order, key optionally encrypted): the SHA-1 thumbprint is computed and the
    certificate is passed as ``public_certificate`` (sent as x5c). PFX/PKCS#12: handed to MSAL as
    ``private_key_pfx_path`` (+ ``passphrase``), after checking here that it opens, for a clear error message.
    """
    if cryptography_import_error():
        raise ConfigError('The Python library "cryptography" is required for certificate authentication.')
    pkcs12, rsa = _cryptography()['pkcs12'], _cryptography()['rsa']
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        raise ConfigError('client_certificate_path %s cannot be read: %s' % (path, exc.strerror or exc))
    pw = password.encode('utf-8') if password else None
    if b'-----BEGIN' in data:
        return _pem_credential(path, data, pw)
    try:
        key, cert, _extra = pkcs12.load_key_and_certificates(data, pw)
    except (ValueError, TypeError) as exc:
        if password:
            raise ConfigError('client_certificate_path %s is neither PEM nor a PFX that opens with the given '
                              'client_certificate_password (%s).' % (path, _crypto_text(exc)))
        raise ConfigError('client_certificate_path %s is neither PEM nor an unencrypted PFX; if it is a protected PFX '
                          'set %s.' % (path, option_sources('client_certificate_password')))
    if key is None or cert is None:
        raise ConfigError('the PFX %s must contain both the private key and its certificate.' % path)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError('the key in %s is not an RSA key; Microsoft Entra client certificates must be RSA.' % path)
    credential = {'private_key_pfx_path': path, 'public_certificate': True}
    if password:
        credential['passphrase'] = password
    return credential


_PEM_KEY_RE = re.compile(br'-----BEGIN ((?:ENCRYPTED |RSA |EC |DSA )?PRIVATE KEY)-----.*?-----END \1-----', re.S)
_PEM_CERT_RE = re.compile(br'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', re.S)


def _crypto_text(exc):
    text = str(exc) or type(exc).__name__
    return text.split('\n')[0][:200]


def _pem_credential(path, data, pw):
    crypto = _cryptography()
    x509, hashes, serialization, rsa = crypto['x509'], crypto['hashes'], crypto['serialization'], crypto['rsa']
    key_match = _PEM_KEY_RE.search(data)
    if not key_match:
        raise ConfigError('client_certificate_path %s contains no private key: it must hold the certificate AND its '
                          'private key (PEM), or be a PFX.' % path)
    block = key_match.group(0)
    try:
        key = serialization.load_pem_private_key(block, password=pw)
    except TypeError as exc:
        if pw is None:
            raise ConfigError('the private key in %s is encrypted: set %s.' % (
                path, option_sources('client_certificate_password')))
        if 'not encrypted' in str(exc):
            key = serialization.load_pem_private_key(block, password=None)
        else:
            raise ConfigError('cannot load the private key in %s: %s' % (path, _crypto_text(exc)))
    except ValueError as exc:
        if pw is not None:
            raise ConfigError('cannot decrypt the private key in %s: wrong client_certificate_password?' % path)
        raise ConfigError('cannot load the private key in %s: %s' % (path, _crypto_text(exc)))
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError('the key in %s is not an RSA key; Microsoft Entra client certificates must be RSA.' % path)
    certs = []
    for cert_block in _PEM_CERT_RE.findall(data):
        try:
            certs.append(x509.load_pem_x509_certificate(cert_block))
        except ValueError:
            continue
    if not certs:
        raise ConfigError('client_certificate_path %s contains no certificate: it must hold the certificate AND its '
                          'private key (PEM), or be a PFX.' % path)
    wanted = key.public_key().public_numbers()
    cert = None
    for candidate in certs:
        pub = candidate.public_key()
        if isinstance(pub, rsa.RSAPublicKey) and pub.public_numbers() == wanted:
            cert = candidate
            break
    if cert is None:
        raise ConfigError('none of the certificates in %s matches its private key.' % path)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode('ascii')
    register_secret(key_pem)
    thumbprint = cert.fingerprint(hashes.SHA1()).hex().upper()  # nosec - the x5t header is defined as SHA-1
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode('ascii')
    return {'private_key': key_pem, 'thumbprint': thumbprint, 'public_certificate': cert_pem}
