# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make the collection importable as ``ansible_collections.msgraph.grants`` when pytest runs from the repository
root (``.venv/bin/python -m pytest tests/unit``), exactly as ``ansible-test units`` lays it out.

The repository root is the collection root, so a temporary ``ansible_collections/msgraph/grants`` symlink pointing
at it is created and its parent put first on ``sys.path``. Under ansible-test (the collection already lives in an
``ansible_collections/<ns>/<name>`` tree) nothing is done.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import atexit
import os
import shutil
import sys
import tempfile

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def _already_in_collection_tree():
    parts = COLLECTION_ROOT.split(os.sep)
    return len(parts) >= 3 and parts[-3] == 'ansible_collections'


def _install_symlink_tree():
    base = tempfile.mkdtemp(prefix='msgraph-grants-collections-')
    atexit.register(shutil.rmtree, base, True)
    namespace_dir = os.path.join(base, 'ansible_collections', 'msgraph')
    os.makedirs(namespace_dir)
    os.symlink(COLLECTION_ROOT, os.path.join(namespace_dir, 'grants'))
    sys.path.insert(0, base)
    # A previously imported (empty) ansible_collections namespace would hide the new path entry.
    for name in [n for n in sys.modules if n == 'ansible_collections' or n.startswith('ansible_collections.')]:
        del sys.modules[name]


if _already_in_collection_tree():
    _parent = os.path.abspath(os.path.join(COLLECTION_ROOT, '..', '..', '..'))
    if _parent not in sys.path:
        sys.path.insert(0, _parent)
else:
    _install_symlink_tree()


# ------------------------------------------------------------------------------------------------------------------
# Shared test helpers: a scripted HTTP(S) server on 127.0.0.1 and a throw-away PKI (CA, server and client certs).
# ------------------------------------------------------------------------------------------------------------------

import collections  # noqa: E402
import datetime  # noqa: E402
import ipaddress  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

try:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlsplit
except ImportError:  # pragma: no cover
    pass


class Recorded(object):
    """One request as the server saw it."""

    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body.decode('utf-8')) if self.body else None

    @property
    def form(self):
        return dict((k, v[0]) for k, v in parse_qs(self.body.decode('utf-8')).items())

    @property
    def args(self):
        return dict((k, v[0]) for k, v in parse_qs(self.query, keep_blank_values=True).items())

    def __repr__(self):
        return 'Recorded(%s %s?%s)' % (self.method, self.path, self.query)


class Reply(object):
    """A scripted answer. ``action='drop'`` closes the connection without answering; ``delay`` sleeps first."""

    def __init__(self, status=200, body=None, headers=None, action=None, delay=0.0):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.action = action
        self.delay = delay


class ScriptedServer(object):
    """A real HTTP(S) server on 127.0.0.1. Answers come from ``handler(recorded)`` when set, otherwise from the
    FIFO of ``add()``-ed replies (an exhausted script answers 599 so a test notices)."""

    def __init__(self, ssl_context=None):
        self.replies = collections.deque()
        self.handler = None
        self.requests = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):  # keep pytest output clean
                pass

            def _serve(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                rec = Recorded(self.command, parts.path, parts.query, dict(self.headers.items()), body)
                with server._lock:
                    server.requests.append(rec)
                    reply = None
                    if server.handler is None:
                        reply = server.replies.popleft() if server.replies else Reply(599, {'error': {
                            'code': 'NoScriptedReply', 'message': 'the test script has no reply left'}})
                if server.handler is not None:
                    reply = server.handler(rec)
                    if not isinstance(reply, Reply):
                        reply = Reply(*reply) if isinstance(reply, tuple) else Reply(200, reply)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.action == 'drop':
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                payload = reply.body
                headers = dict(reply.headers)
                if isinstance(payload, (dict, list)):
                    payload = json.dumps(payload).encode('utf-8')
                    headers.setdefault('Content-Type', 'application/json')
                elif isinstance(payload, str):
                    payload = payload.encode('utf-8')
                elif payload is None:
                    payload = b''
                self.send_response(reply.status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header('Content-Length', str(len(payload)))
                self.end_headers()
                if payload:
                    self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):  # TLS handshakes the client rejects, resets, ...
                pass

        self.httpd = Server(('127.0.0.1', 0), Handler)
        if ssl_context is not None:
            self.httpd.socket = ssl_context.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = 'https' if ssl_context is not None else 'http'
        self.port = self.httpd.server_address[1]
        self.url = '%s://127.0.0.1:%d' % (self.scheme, self.port)
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.05})
        self._thread.daemon = True
        self._thread.start()

    def add(self, status=200, body=None, headers=None, action=None, delay=0.0):
        self.replies.append(Reply(status, body, headers, action, delay))
        return self

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


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


@pytest.fixture(scope='session')
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp('pki'))


@pytest.fixture
def http_server():
    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture
def https_server(pki):
    server = ScriptedServer(pki.server_context())
    yield server
    server.close()


@pytest.fixture
def server_factory(pki):
    servers = []

    def make(tls=False):
        server = ScriptedServer(pki.server_context() if tls else None)
        servers.append(server)
        return server
    yield make
    for server in servers:
        server.close()
