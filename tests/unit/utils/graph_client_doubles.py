# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test doubles of the GraphClient tests (test_graph_client.py, test_graph_retries.py, test_graph_batch.py): a fake
clock that never really sleeps, token providers, a client wired to them, and Graph error bodies."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import GraphClient

TOKEN_1 = 'eyJ0eXAiOiJKV1QifQ.first-token-value-4f1c2a.sig'
TOKEN_2 = 'eyJ0eXAiOiJKV1QifQ.second-token-value-9d8e7f.sig'


class FakeTime(object):
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def sleep(self, delay):
        self.sleeps.append(delay)
        self.now += delay

    def clock(self):
        return self.now


@pytest.fixture
def clock():
    """A FakeTime; test modules import this fixture."""
    return FakeTime()


class FakeProvider(object):
    refreshable = True

    def __init__(self, tokens=(TOKEN_1, TOKEN_2)):
        self.tokens = list(tokens)
        self.index = 0
        self.calls = []

    def get_token(self, force_refresh=False):
        self.calls.append(force_refresh)
        if force_refresh:
            self.index = min(self.index + 1, len(self.tokens) - 1)
        return self.tokens[self.index]


class StaticProvider(FakeProvider):
    refreshable = False


def make_client(server, clock, provider=None, budget=120, timeout=5, verify=False, log=None, version='v1.0'):
    return GraphClient(server.url, version, provider or FakeProvider(), verify=verify, timeout=timeout,
                       retry_budget=budget, sleep=clock.sleep, clock=clock.clock, rand=lambda: 0.5, log=log)


def graph_error(status, code, message, request_id='rid-1'):
    return dict(error=dict(code=code, message=message,
                           innerError={'date': '2026-01-01T00:00:00', 'request-id': request_id}))


def throttled(retry_after=None):
    headers = {'Retry-After': retry_after} if retry_after is not None else {}
    return dict(status=429, body=graph_error(429, 'TooManyRequests', 'Please retry again later.'), headers=headers)
