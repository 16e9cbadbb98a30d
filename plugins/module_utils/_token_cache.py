# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""The persistent token cache: MSAL's tokens and the persisted part of its ``http_cache`` (the OpenID discovery
document) in one owner-only JSON file per (authority, tenant, client id, credential), so that a second process with a
warm cache makes no token-side request at all. Self-contained: nothing here knows an auth method; the caller gives
the key parts (``_auth_method_*.py``) and the directory (``_auth_settings.resolve_token_cache``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import hashlib
import heapq
import json
import os
import time
import uuid

try:
    from msal.throttled_http_client import NormalizedResponse as _MsalNormalizedResponse
except ImportError:  # pragma: no cover - no MSAL, or an older MSAL that caches raw responses; see _cached_response()
    _MsalNormalizedResponse = None

try:
    import fcntl
    HAS_FCNTL = True
except ImportError:  # pragma: no cover - not POSIX: no inter-process lock, the cache still works
    HAS_FCNTL = False

CACHE_FILE_VERSION = 1


class _PlainResponse(object):
    """What MSAL reads from a cached HTTP response (status_code, text, headers, raise_for_status)."""

    def __init__(self, status_code, text, headers):
        self.status_code = status_code
        self.text = text
        self.headers = headers

    def raise_for_status(self):
        if self.status_code >= 400:
            raise ValueError('HTTP Error: %d' % self.status_code)


def _cached_response(status, text, headers):
    plain = _PlainResponse(status, text, headers)
    if _MsalNormalizedResponse is not None:
        return _MsalNormalizedResponse(plain)
    return plain  # MSAL < 1.33 caches raw responses; anything with these attributes will do


def dump_http_cache(mapping, now=None):
    """The part of MSAL's ``http_cache`` worth persisting: successful GETs (the OpenID discovery document), as plain
    JSON data. Throttling/error entries stay process-local."""
    now = int(time.time() if now is None else now)
    index = mapping.get('_index_') if hasattr(mapping, 'get') else None
    if not index:
        return {}
    try:
        timestamps = index[1]
    except (IndexError, TypeError, KeyError):
        return {}
    out = {}
    for key, stamp in list(timestamps.items()):
        if not isinstance(key, str) or not key.startswith('GET '):
            continue
        value = mapping.get(key)
        status = getattr(value, 'status_code', None)
        if not isinstance(status, int) or not 200 <= status < 300:
            continue
        try:
            expires_at, created_at = int(stamp[0]), int(stamp[1])
        except (TypeError, ValueError, IndexError):
            continue
        if expires_at <= now:
            continue
        headers = dict((str(k), str(v)) for k, v in (getattr(value, 'headers', None) or {}).items())
        out[key] = dict(expires_at=expires_at, created_at=created_at, status_code=status,
                        text=getattr(value, 'text', ''), headers=headers)
    return out


def load_http_cache(mapping, entries, now=None):
    """Merge persisted entries into MSAL's ``http_cache`` dict (in place: MSAL holds a reference to it)."""
    if not entries or not isinstance(entries, dict):
        return
    now = int(time.time() if now is None else now)
    sequence, timestamps = mapping.get('_index_', ([], {}))
    sequence = list(sequence)
    timestamps = dict(timestamps)
    for key, entry in entries.items():
        try:
            expires_at, created_at = int(entry['expires_at']), int(entry['created_at'])
            status = int(entry['status_code'])
            text = entry.get('text') or ''
            headers = entry.get('headers') or {}
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        if not created_at <= now < expires_at or key in timestamps:
            continue
        mapping[key] = _cached_response(status, text, headers)
        timestamps[key] = [expires_at, created_at]
        sequence.append([expires_at, created_at, key])
    heapq.heapify(sequence)
    mapping['_index_'] = (sequence, timestamps)


class CacheUnavailable(Exception):
    pass


class TokenCacheStore(object):
    """One JSON file per (authority, tenant, client id, credential) holding MSAL's serialized token cache and the
    persisted part of its http_cache.

    Safety rules: the directory is 0700 and the file 0600, both owned by the current user; a file that is not (or a
    symlink) is ignored, not trusted. Writes go to a temporary file created with O_CREAT|O_EXCL and mode 0600 (never
    readable by others, not even briefly) and then os.replace() it: readers see the old or the new file, never half
    of one. Read-modify-write runs under an fcntl lock on a sibling ``.lock`` file, so concurrent Ansible forks do
    not lose each other's tokens (and mostly share one token request).

    The content is JSON, never pickle: a cache file is data and must not be able to run code.
    """

    def __init__(self, directory, key_parts, warn=None, is_default_dir=False, lock_timeout=60.0):
        self.directory = directory
        self.enabled = directory is not None
        self.is_default_dir = is_default_dir
        self.lock_timeout = lock_timeout
        self._warn = warn
        self._warned = False
        self._loaded_text = None
        digest = hashlib.sha256('\x00'.join(str(p) for p in key_parts).encode('utf-8')).hexdigest()[:40]
        self.name = 'token-%s.json' % digest
        self.path = os.path.join(directory, self.name) if directory else None
        self.lock_path = (self.path + '.lock') if directory else None

    def _disable(self, why):
        self.enabled = False
        if self._warn is not None and not self._warned:
            self._warned = True
            self._warn('Persistent token cache disabled for this run: %s' % why)

    def _ensure_dir(self):
        directory = self.directory
        created = False
        if not os.path.isdir(directory):
            try:
                os.makedirs(directory, 0o700)
                created = True
            except OSError as exc:
                if exc.errno != errno.EEXIST or not os.path.isdir(directory):
                    raise CacheUnavailable('cannot create %s: %s' % (directory, exc.strerror or exc))
        st = os.stat(directory)
        if st.st_uid != os.geteuid():
            raise CacheUnavailable('%s is owned by another user' % directory)
        mode = st.st_mode & 0o777
        if (created or self.is_default_dir) and mode != 0o700:
            os.chmod(directory, 0o700)
        elif mode & 0o022:
            raise CacheUnavailable('%s is writable by other users (mode %o); use a private directory' % (directory, mode))

    def _acquire_lock(self):
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0),
                     0o600)
        if not HAS_FCNTL:  # pragma: no cover
            return fd
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except (IOError, OSError) as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise CacheUnavailable('timed out after %.0f s waiting for the lock %s' % (
                        self.lock_timeout, self.lock_path))
                time.sleep(0.05)

    @contextlib.contextmanager
    def locked(self):
        fd = None
        if self.enabled:
            try:
                self._ensure_dir()
                fd = self._acquire_lock()
            except CacheUnavailable as exc:
                self._disable(str(exc))
            except (IOError, OSError) as exc:
                self._disable('cannot use %s: %s' % (self.directory, exc))
        try:
            yield self
        finally:
            if fd is not None:
                try:
                    if HAS_FCNTL:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                finally:
                    os.close(fd)

    def load(self, token_cache, http_cache):
        """Load the file (if any, and if safe) into the MSAL token cache and http_cache."""
        if not self.enabled:
            return
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0))
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                self._loaded_text = None
                return
            self._disable('cannot read %s: %s' % (self.path, exc))
            return
        try:
            st = os.fstat(fd)
            if st.st_uid != os.geteuid() or st.st_mode & 0o077:
                # Refuse a cache another user could have written or can read: its tokens are not to be trusted.
                self._disable('%s is not private to the current user (owner uid %d, mode %o); it was ignored'
                              % (self.path, st.st_uid, st.st_mode & 0o777))
                return
            chunks = []
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(fd)
        text = b''.join(chunks).decode('utf-8', 'replace')
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or doc.get('version') != CACHE_FILE_VERSION:
            self._loaded_text = None  # unreadable or another format: start afresh (it will be overwritten)
            return
        state = doc.get('token_cache')
        if isinstance(state, dict):
            token_cache.deserialize(json.dumps(state))
        load_http_cache(http_cache, doc.get('http_cache'))
        self._loaded_text = self._render(token_cache, http_cache)

    @staticmethod
    def _render(token_cache, http_cache):
        try:
            state = json.loads(token_cache.serialize())
        except ValueError:
            state = {}
        doc = dict(version=CACHE_FILE_VERSION, token_cache=state, http_cache=dump_http_cache(http_cache))
        return json.dumps(doc, sort_keys=True, separators=(',', ':'))

    def save(self, token_cache, http_cache):
        """Write the cache if it changed: temp file (O_EXCL, 0600) then atomic os.replace()."""
        if not self.enabled:
            return False
        text = self._render(token_cache, http_cache)
        if text == self._loaded_text:
            return False
        tmp = os.path.join(self.directory, '.%s.%d.%s.tmp' % (self.name, os.getpid(), uuid.uuid4().hex[:12]))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0)
                         | getattr(os, 'O_CLOEXEC', 0), 0o600)
            try:
                if hasattr(os, 'fchmod'):
                    os.fchmod(fd, 0o600)
                data = text.encode('utf-8')
                while data:
                    written = os.write(fd, data)
                    data = data[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except (IOError, OSError) as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            self._disable('cannot write %s: %s' % (self.path, exc))
            return False
        self._loaded_text = text
        return True
