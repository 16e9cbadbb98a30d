# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The persistent token cache (_token_cache.py): private files written atomically, untrusted files ignored, the
lock, and the persisted part of the http_cache of MSAL."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat
import threading
import time

from ansible_collections.msgraph.grants.plugins.module_utils import _token_cache
from ansible_collections.msgraph.grants.plugins.module_utils._token_cache import TokenCacheStore
from ansible_collections.msgraph.grants.tests.unit.utils.auth_testing import FakeCache


def test_store_writes_private_files_atomically(tmp_path, monkeypatch):
    directory = tmp_path / 'cache'
    store = TokenCacheStore(str(directory), ('a', 'b', 'c'), is_default_dir=True)
    created = []
    real_open = os.open
    real_replace = os.replace

    def spy_open(path, flags, mode=0o777, *args, **kwargs):
        if path.endswith('.tmp'):
            created.append((flags, mode))
        return real_open(path, flags, mode, *args, **kwargs)

    def spy_replace(src, dst):
        # At the moment of the swap the temp file is complete and already private; the old file is untouched.
        assert stat.S_IMODE(os.stat(src).st_mode) == 0o600
        assert json.loads(open(src).read())['token_cache'] == {'AccessToken': {'k': 1}}
        real_replace(src, dst)

    monkeypatch.setattr(os, 'open', spy_open)
    monkeypatch.setattr(os, 'replace', spy_replace)
    old_umask = os.umask(0)  # even with a permissive umask nothing is group/other accessible
    try:
        with store.locked():
            store.load(FakeCache(), {})
            assert store.save(FakeCache({'AccessToken': {'k': 1}}), {})
    finally:
        os.umask(old_umask)
    assert created and all(flags & os.O_EXCL and flags & os.O_CREAT and mode == 0o600 for flags, mode in created)
    assert stat.S_IMODE(os.stat(str(directory)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.lock_path).st_mode) == 0o600
    assert sorted(os.listdir(str(directory))) == sorted([store.name, store.name + '.lock'])  # no temp file left
    # unchanged content is not rewritten
    again = TokenCacheStore(str(directory), ('a', 'b', 'c'))
    cache = FakeCache()
    again.load(cache, {})
    assert cache.state == {'AccessToken': {'k': 1}}
    assert again.save(cache, {}) is False


def test_store_key_separates_authority_tenant_and_client(tmp_path):
    names = set(TokenCacheStore(str(tmp_path), key).name for key in (
        ('confidential', 'https://a', 't1', 'c1'), ('confidential', 'https://b', 't1', 'c1'),
        ('confidential', 'https://a', 't2', 'c1'), ('confidential', 'https://a', 't1', 'c2')))
    assert len(names) == 4


def test_store_tightens_the_default_dir_but_refuses_a_shared_custom_dir(tmp_path):
    default = tmp_path / 'default'
    default.mkdir(mode=0o755)
    os.chmod(str(default), 0o755)
    store = TokenCacheStore(str(default), ('k',), is_default_dir=True)
    with store.locked():
        assert store.enabled
    assert stat.S_IMODE(os.stat(str(default)).st_mode) == 0o700

    shared = tmp_path / 'shared'
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    warnings = []
    store = TokenCacheStore(str(shared), ('k',), warn=warnings.append)
    with store.locked():
        store.load(FakeCache(), {})
        assert store.save(FakeCache({'x': 1}), {}) is False
    assert not store.enabled and 'writable by other users' in warnings[0]
    assert os.listdir(str(shared)) == []


def test_store_ignores_a_file_others_can_read_or_that_another_user_owns(tmp_path):
    directory = tmp_path / 'c'
    writer = TokenCacheStore(str(directory), ('k',))
    with writer.locked():
        writer.save(FakeCache({'AccessToken': {'evil': 1}}), {})
    os.chmod(writer.path, 0o644)
    warnings = []
    reader = TokenCacheStore(str(directory), ('k',), warn=warnings.append)
    cache = FakeCache()
    with reader.locked():
        reader.load(cache, {})
    assert cache.state == {} and 'not private to the current user' in warnings[0]

    if os.geteuid() == 0:  # chown needs root
        os.chmod(writer.path, 0o600)
        os.chown(writer.path, 12345, -1)
        reader = TokenCacheStore(str(directory), ('k',), warn=warnings.append)
        cache = FakeCache()
        reader.load(cache, {})
        assert cache.state == {} and 'owner uid 12345' in warnings[-1]


def test_store_ignores_a_symlinked_file(tmp_path):
    directory = tmp_path / 'c'
    store = TokenCacheStore(str(directory), ('k',))
    with store.locked():
        pass
    target = tmp_path / 'elsewhere.json'
    target.write_text(json.dumps({'version': 1, 'token_cache': {'AccessToken': {'planted': 1}}}))
    os.chmod(str(target), 0o600)
    os.symlink(str(target), store.path)
    cache = FakeCache()
    store.load(cache, {})
    assert cache.state == {}


def test_store_survives_garbage(tmp_path):
    store = TokenCacheStore(str(tmp_path / 'c'), ('k',))
    with store.locked():
        pass
    fd = os.open(store.path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b'{not json')
    os.close(fd)
    cache = FakeCache()
    store.load(cache, {})
    assert cache.state == {} and store.enabled
    assert store.save(FakeCache({'ok': 1}), {})


def test_store_lock_is_exclusive_and_bounded(tmp_path):
    directory = str(tmp_path / 'c')
    first = TokenCacheStore(directory, ('k',))
    warnings = []
    second = TokenCacheStore(directory, ('k',), warn=warnings.append, lock_timeout=0.3)
    events = []
    with first.locked():
        t0 = time.monotonic()
        with second.locked():
            events.append(time.monotonic() - t0)
    assert events[0] >= 0.25 and not second.enabled and 'timed out' in warnings[0]

    third = TokenCacheStore(directory, ('k',), lock_timeout=5)
    order = []

    def holder():
        with first.locked():
            order.append('first-in')
            time.sleep(0.3)
            order.append('first-out')
    first.enabled = True
    thread = threading.Thread(target=holder)
    thread.start()
    while not order:
        time.sleep(0.01)
    with third.locked():
        order.append('third-in')
    thread.join()
    assert order == ['first-in', 'first-out', 'third-in'] and third.enabled


def test_unwritable_cache_dir_degrades_to_memory(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text(u'x')
    warnings = []
    store = TokenCacheStore(str(blocker / 'sub'), ('k',), warn=warnings.append)
    with store.locked():
        store.load(FakeCache(), {})
        assert store.save(FakeCache({'a': 1}), {}) is False
    assert not store.enabled and warnings


def test_http_cache_round_trip_keeps_only_successful_gets():
    from msal.individual_cache import _ExpiringMapping

    class Raw(object):
        def __init__(self, status, text):
            self.status_code, self.text, self.headers = status, text, {'Content-Type': 'application/json'}

    def NormalizedResponse(raw):  # what MSAL stores: its NormalizedResponse (>= 1.33) or the raw response
        return _token_cache._cached_response(raw.status_code, raw.text, raw.headers)

    mapping = {}
    em = _ExpiringMapping(mapping=mapping, capacity=10)
    em.set('GET https://h/t/v2.0/.well-known/openid-configuration hash=1 2xx', NormalizedResponse(Raw(200, '{"a":1}')), 3600)
    em.set('POST https://h/t/oauth2/v2.0/token hash=2 400', NormalizedResponse(Raw(400, 'bad')), 60)
    em.set('GET https://h/other hash=3 2xx', NormalizedResponse(Raw(404, 'nf')), 3600)
    dumped = _token_cache.dump_http_cache(mapping)
    assert list(dumped) == ['GET https://h/t/v2.0/.well-known/openid-configuration hash=1 2xx']
    fresh = {}
    _token_cache.load_http_cache(fresh, json.loads(json.dumps(dumped)))
    loaded = _ExpiringMapping(mapping=fresh)['GET https://h/t/v2.0/.well-known/openid-configuration hash=1 2xx']
    assert (loaded.status_code, loaded.text) == (200, '{"a":1}')
    _token_cache.load_http_cache(fresh, {'GET x': {'expires_at': 1, 'created_at': 0, 'status_code': 200, 'text': ''}})
    assert 'GET x' not in fresh  # expired entries are not loaded
