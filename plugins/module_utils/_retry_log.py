# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""What a run retried, in words a user can read: the ``retries`` list of module results, the warning of a run that
spent time retrying, how a failed connection is described, and what a request sent for the user is called (an
internal ``$batch`` is named by the requests it carries, never by itself). The decisions: ``_graph_retries.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    import requests.exceptions
    HAS_REQUESTS = True
except ImportError:  # pragma: no cover - the client reports the missing library
    HAS_REQUESTS = False

from ansible_collections.msgraph.grants.plugins.module_utils._errors import path_only
from ansible_collections.msgraph.grants.plugins.module_utils._redaction import redact

MAX_LISTED = 50            # entries kept in ``retries`` (a run throttled for minutes must not flood its result)


def _collection(url):
    """``/servicePrincipals`` for ``/servicePrincipals(appId='...')`` or ``/servicePrincipals/{id}`` (never the
    query: names in filters stay out of the summary)."""
    path = path_only(url or '') or '/'
    match = re.match(r'^(/[^/(?]+)', path)
    return match.group(1) if match else path


def describe_requests(items):
    """What a group of requests sent in one round trip does, e.g. ``GET /servicePrincipals (3 requests) and POST
    /oauth2PermissionGrants``. ``items``: dicts with ``method`` and ``url`` (relative to the version root)."""
    counts = []
    for item in items:
        key = '%s %s' % (item['method'], _collection(item['url']))
        for entry in counts:
            if entry[0] == key:
                entry[1] += 1
                break
        else:
            counts.append([key, 1])
    parts = ['%s (%d requests)' % (key, n) if n > 1 else key for key, n in counts[:4]]
    if len(counts) > 4:
        parts.append('%d more kinds of request' % (len(counts) - 4))
    return ' and '.join([', '.join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)


def connect_reason(exc):
    """A short reason for a connection that could not be opened, from the exception chain's text."""
    text = str(exc)
    for needle, reason in (('refused', 'connection refused'),
                           ('NameResolution', 'host name not resolved'), ('Name or service not known', 'host name not resolved'),
                           ('nodename nor servname', 'host name not resolved'), ('getaddrinfo', 'host name not resolved'),
                           ('timed out', 'connection timed out'), ('unreachable', 'network unreachable')):
        if needle in text:
            return reason
    return 'connection failed'


def unreachable_hint(graph_root):
    return ('Check graph_url (MSGRAPH_GRAPH_URL) and cloud: a value left over from an earlier emulator session sends '
            'every request to 127.0.0.1 (unset MSGRAPH_GRAPH_URL to use the cloud\'s Graph). Otherwise check that '
            '%s is reachable from this host (proxy, firewall, DNS).' % graph_root)


def transport_kind(exc):
    if HAS_REQUESTS:
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return 'connection timed out'
        if isinstance(exc, requests.exceptions.Timeout):
            return 'timed out waiting for the response'
        if isinstance(exc, requests.exceptions.ConnectionError):
            return 'connection error'
    return type(exc).__name__


def exc_text(exc):
    text = str(exc) or type(exc).__name__
    return redact(text)


class RetryLog(object):
    """The retries of one run: ``what`` was retried, ``why``, and how long the run ``waited`` before it (seconds).

    Never a token, a secret or a query string: only the method, the path and a status or reason.
    """

    def __init__(self):
        self.entries = []
        self.dropped = 0

    def add(self, what, why, waited):
        if len(self.entries) >= MAX_LISTED:
            self.dropped += 1
            return
        self.entries.append(dict(what=what, why=why, waited=round(max(0.0, waited), 3)))

    def summary(self, retry_spent):
        """The warning text of a run that retried (None when it did not)."""
        if not self.entries:
            return None
        count = len(self.entries) + self.dropped
        reasons = []
        for entry in self.entries:
            if entry['why'] not in reasons:
                reasons.append(entry['why'])
        return ('Microsoft Graph: this run retried %d time%s and spent %.1f s of its retry_budget waiting or on '
                'failed attempts (%s). The result\'s "retries" lists each retry (shown with -v).' % (
                    count, '' if count == 1 else 's', retry_spent, '; '.join(reasons[:4])))
