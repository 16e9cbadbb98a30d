# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""A scripted HTTP(S) server on 127.0.0.1 for the transport and auth tests (fixtures in ``tests/unit/conftest.py``)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import json
import socket
import threading
import time

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
