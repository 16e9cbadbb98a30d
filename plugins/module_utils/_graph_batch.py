# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""The ``$batch`` mechanics behind ``GraphClient.batch``: chunks of 20, the wire format, answers correlated by id, and
which items are sent again (https://learn.microsoft.com/graph/json-batching; docs/dev/graph-behaviour.md).

Each envelope goes through the client's one-request sending (``send``), so the usual retry rules apply to it; the
items' own answers are handled here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json as _json
import re

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported, this only keeps the import sanity test quiet
    from urlparse import urlsplit  # type: ignore

from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_concurrency import run_parallel
from ansible_collections.msgraph.grants.plugins.module_utils._graph_retries import READ_METHODS, parse_retry_after
from ansible_collections.msgraph.grants.plugins.module_utils._retry_log import describe_requests

BATCH_LIMIT = 20           # Graph JSON batching: at most 20 requests per $batch
BATCH_READ_RETRY_STATUSES = (502, 503, 504)
# An item answered 424 Failed Dependency was not executed (like a 429): safe to send again.
BATCH_NOT_RUN_STATUSES = (424, 429)


def _bind(function, argument):
    return lambda: function(argument)


def batch_answers(envelope):
    """The ``responses`` list of a ``$batch`` answer whatever its status, or None when it carries none."""
    body = envelope.json if isinstance(envelope.json, dict) else {}
    responses = body.get('responses')
    return responses if isinstance(responses, list) else None


class BatchSender(object):
    """One ``GraphClient.batch`` call. ``send`` is the client's one-request sending (``GraphClient._send``),
    ``retries`` its RetryBudget, ``stats`` its counters, ``response`` the GraphResponse class, ``encode_query`` its
    query encoder."""

    def __init__(self, base_url, send, retries, stats, response, encode_query, parallel=None):
        self.base_url = base_url
        # (tasks, stop) -> Outcomes in input order; by default one envelope after the other.
        self.parallel = parallel or (lambda tasks, stop=None: run_parallel(tasks, limit=1, stop=stop))
        self.batch_url = base_url + '/$batch'
        self.send = send
        self.retries = retries
        self.stats = stats
        self.response = response
        self.encode_query = encode_query

    def run(self, requests_):
        """Send ``requests_`` (see ``GraphClient.batch``) 20 per ``$batch``; one GraphResponse per input, in order.

        Responses are correlated by id (Graph may answer in any order). Items answered 429 (and reads answered
        502/503/504) are re-sent alone after the longest item Retry-After, within the retry budget; when the budget
        runs out they are returned as their error response (``.error`` says so). An item sent with
        ``retry_throttled=False`` (a write computed from a read) gets its 429 back instead. The batch envelope itself
        follows the usual retry rules (a batch holding a write is a write; a 429 on it counts as a 429 on every item).

        When the answer to a batch holding writes is lost (timeout, dropped connection, 5xx), the other batches are
        still sent, then a ``GraphError(ambiguous=True)`` is raised whose ``partial_results`` holds the responses
        that are known and None for every request whose outcome is unknown: the caller reconciles those by reading.
        When a batch holding writes fails otherwise (refused, budget exhausted), the error raised at once carries
        ``partial_results`` too (None for that batch and the ones not sent), so the caller knows what landed.
        """
        items = [self._item(i, req) for i, req in enumerate(requests_)]
        results = [None] * len(items)
        chunks = [list(range(start, min(start + BATCH_LIMIT, len(items)))) for start in range(0, len(items), BATCH_LIMIT)]

        def send_chunk(chunk):
            # The user never asked for a $batch: errors and retries name the requests it carries.
            what = describe_requests([items[i] for i in chunk])
            state = self.retries.operation()
            try:
                self._chunk(items, chunk, results, state, what)
            except GraphError as err:
                if (err.url or '').endswith('/$batch'):
                    err.what = what
                    err.message = err.message.replace('the $batch ', 'the ')
                raise
            finally:
                state.close()

        # The envelopes are independent: sent a few at a time (``_graph_concurrency``). An ambiguous failure lets the
        # others go on; any other failure stops sending new ones (those already in flight finish and are reported).
        outcomes = self.parallel([_bind(send_chunk, chunk) for chunk in chunks],
                                 stop=lambda err: not getattr(err, 'ambiguous', False))
        errors = [outcome.error for outcome in outcomes if outcome.error is not None]
        for err in errors:
            if not isinstance(err, GraphError):
                raise err
        # A batch whose outcome is unknown wins over one refused, whatever their order or the order they were
        # answered in (they run concurrently): the caller must reconcile by reading. A refused batch and the ones
        # not sent are None in partial_results as well.
        unknown = next((err for err in errors if err.ambiguous), None)
        if unknown is not None:
            unknown.partial_results = results
            raise unknown
        if errors:
            if any(item['method'] not in READ_METHODS for item in items):
                errors[0].partial_results = results  # the writes of other batches did land: say which
            raise errors[0]
        return results

    def _chunk(self, items, pending, results, state, what):
        """Send items[pending] (at most 20) until each has an answer that is not to be retried."""
        backoff_round = 0
        rounds = 0
        batch_url = self.batch_url
        while pending:
            rounds += 1
            for i in pending:
                results[i] = None  # re-sent: an earlier answer (a 429) no longer says what happened to it
            chunk = [items[i]['wire'] for i in pending]
            method = 'GET' if all(items[i]['method'] in READ_METHODS for i in pending) else 'POST'
            retry_envelope = all(items[i]['retry_throttled'] for i in pending)
            envelope = self.send('POST', batch_url, {'requests': chunk}, None, state, treat_as=method,
                                 retry_throttled=retry_envelope, what=what)
            responses = batch_answers(envelope)
            if responses is None and envelope.status == 429:
                # Only when an item must not be re-sent blindly: the envelope's 429 is every item's answer.
                by_id = dict((items[i]['id'].lower(), {'id': items[i]['id'], 'status': 429, 'headers': dict(envelope.headers),
                                                       'body': envelope.json}) for i in pending)
            else:
                # Graph's pages disagree on the envelope status when items are throttled (200, or 424 per the
                # throttling page; docs/dev/graph-behaviour.md): whenever it carries the items' answers, use them.
                if responses is None:
                    envelope.raise_for_status()
                self.retries.count('batches')
                if not isinstance(responses, list):
                    raise GraphError('the $batch response has no "responses" list', method='POST', url=batch_url,
                                     ambiguous=(method != 'GET'), request_id=envelope.request_id)
                by_id = {}
                for entry in responses:
                    if isinstance(entry, dict) and entry.get('id') is not None:
                        by_id[str(entry.get('id')).lower()] = entry
            retry = []
            waits = []
            throttled = False
            for i in pending:
                entry = by_id.get(items[i]['id'].lower())
                if entry is None:
                    raise GraphError('the $batch response has no answer for request id %s (%s %s)' % (
                        items[i]['id'], items[i]['method'], items[i]['url']), method='POST',
                        url=batch_url, ambiguous=(method != 'GET'), request_id=envelope.request_id)
                resp = self._response(items[i], entry)
                results[i] = resp
                if resp.status == 429:
                    self.retries.count('throttled')
                    throttled = True
                    # Graph throttles per application: the longest Retry-After of the batch holds every request, those
                    # returned to the caller (who plans them again) included.
                    waits.append(parse_retry_after(resp.headers.get('Retry-After')))
                # 429 was never applied; a read answered 502/503/504 is safe to repeat. A write item answered 5xx is
                # returned as is: its outcome is unknown and the caller reconciles it by reading.
                if (resp.status in BATCH_NOT_RUN_STATUSES and items[i]['retry_throttled']) or (
                        resp.status in BATCH_READ_RETRY_STATUSES and items[i]['method'] in READ_METHODS):
                    retry.append(i)
                    if resp.status != 429:
                        waits.append(parse_retry_after(resp.headers.get('Retry-After')))
            if not retry and not throttled:
                return
            known = [w for w in waits if w]
            delay = max(known) if known else self.retries.backoff(backoff_round)
            backoff_round += 1
            if throttled:
                not_before = self.retries.hold(delay)
                for i in pending:
                    if results[i].status == 429:
                        results[i].not_before = not_before
            if not retry:
                return  # the throttled items go back to the caller; the hold delays whatever it sends next
            if not state.can_wait(delay):
                for i in retry:
                    self.retries.give_up(results[i], state, rounds)
                return
            what = describe_requests([items[i] for i in retry])
            why = 'HTTP %s' % '/'.join(sorted(set(str(results[i].status) for i in retry)))
            if throttled:
                self.retries.wait_hold(state, delay, not_before, what, why)
            else:
                self.retries.wait(state, delay, what, why)
            pending = retry

    def _item(self, index, req):
        if not isinstance(req, dict) or not req.get('url') or not req.get('method'):
            raise GraphError('batch request #%d needs "method" and "url"' % index)
        method = str(req['method']).upper()
        url = str(req['url'])
        if re.match(r'(?i)^https?://', url):
            parts = urlsplit(url)
            url = parts.path + ('?' + parts.query if parts.query else '')
            prefix = urlsplit(self.base_url).path
            if url.startswith(prefix + '/'):
                url = url[len(prefix):]
        if not url.startswith('/'):
            url = '/' + url
        query = self.encode_query(req.get('params'))
        if query:
            url += ('&' if '?' in url else '?') + query
        wire = {'id': str(index), 'method': method, 'url': url}
        headers = dict(req.get('headers') or {})
        if req.get('body') is not None:
            wire['body'] = req['body']
            if not any(k.lower() == 'content-type' for k in headers):
                headers['Content-Type'] = 'application/json'
        if headers:
            wire['headers'] = headers
        return dict(id=str(index), method=method, url=url, wire=wire, retry_throttled=req.get('retry_throttled', True))

    def _response(self, item, entry):
        try:
            status = int(entry.get('status'))
        except (TypeError, ValueError):
            raise GraphError('the $batch answer for request id %s has no valid status' % item['id'], method='POST',
                             url=self.batch_url, ambiguous=(item['method'] not in READ_METHODS))
        body = entry.get('body')
        text = None
        if isinstance(body, str):
            text = body
            try:
                body = _json.loads(body)
            except ValueError:
                pass
        return self.response(status, headers=entry.get('headers') or {}, json=body, text=text,
                             method=item['method'], url=self.base_url + item['url'])
