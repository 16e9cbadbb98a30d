# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The secret registry (plugins/module_utils/_redaction.py) under GraphClient's concurrent ``$batch`` envelopes: a
token refresh registers a secret in one thread while another redacts a message. The registry is process-wide, so every
value here is unique to this file and could not occur in another test's text."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading

from ansible_collections.msgraph.grants.plugins.module_utils import _redaction
from ansible_collections.msgraph.grants.plugins.module_utils._redaction import redact, register_secret


def test_the_longest_secret_is_removed_whole():
    register_secret('redaction-test-short')
    register_secret(b' redaction-test-short-and-longer ')
    assert redact('a redaction-test-short-and-longer b') == 'a ******** b'
    assert redact('Authorization: Bearer abcdefghijkl') == 'Authorization: Bearer ********'


def test_a_registration_replaces_the_registry_and_never_changes_the_one_being_read():
    # redact() iterates the registry without a lock: a registration must make a new one (copy-on-write), so an
    # iteration in another thread never sees it change size ("Set changed size during iteration").
    before = _redaction._Registry.secrets
    assert isinstance(before, tuple)
    register_secret('redaction-test-copy-on-write')
    after = _redaction._Registry.secrets
    assert after is not before and 'redaction-test-copy-on-write' not in before and 'redaction-test-copy-on-write' in after
    register_secret('redaction-test-copy-on-write')  # the same value again: nothing new
    assert _redaction._Registry.secrets is after


def test_registering_while_other_threads_redact_loses_nothing():
    values = ['redaction-test-thread-%04d' % n for n in range(300)]
    errors, start = [], threading.Event()

    def register():
        start.wait()
        for value in values:
            register_secret(value)

    def read():
        start.wait()
        try:
            for value in values * 2:
                redact('token ' + value)
        except Exception as exc:  # pylint: disable=broad-except
            errors.append(exc)
    threads = [threading.Thread(target=register), threading.Thread(target=register)]
    threads += [threading.Thread(target=read) for _n in range(3)]
    for thread in threads:
        thread.start()
    start.set()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(redact('x ' + value) == 'x ********' for value in values)
    assert len([s for s in _redaction._Registry.secrets if s.startswith('redaction-test-thread-')]) == len(values)
