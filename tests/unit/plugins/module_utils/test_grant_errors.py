# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""What Graph's errors mean for a grant (``_grant_errors``): the duplicate key, a referenced object not replicated
yet, and the 403 hint naming the permissions, which the grant services add to every 403 leaving them (the transport
knows nothing of grants)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._bulk import BulkGrantService
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._grant_errors import (
    PERMISSIONS_HINT,
    is_duplicate_grant_error,
    is_not_replicated_error,
    permission_hints,
    with_permissions_hint,
)
from ansible_collections.msgraph.grants.plugins.module_utils._grant_service import GrantService
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import GraphResponse, error_from_response

DENIED = dict(status=403, code='Authorization_RequestDenied', message='Insufficient privileges to complete the operation.')


@pytest.mark.parametrize('status, message, dup, repl', [
    (409, 'Permission entry already exists.', True, False),
    (400, 'Permission entry already exists', True, False),
    (400, "Resource 'x' does not exist or one of its queried reference-property objects are not present.", False, True),
    (404, 'Resource not found', False, True),
    (403, 'Permission entry already exists.', False, False),
    (400, 'Invalid value specified for property', False, False),
])
def test_duplicate_and_replication_helpers(status, message, dup, repl):
    err = GraphError(message, status=status, code='X')
    assert is_duplicate_grant_error(err) is dup
    assert is_not_replicated_error(err) is repl
    assert not is_duplicate_grant_error(ValueError(message)) and not is_not_replicated_error(None)


def _answer(status, code, message):
    return GraphResponse(status, {'request-id': 'rid'}, {'error': {'code': code, 'message': message}},
                         method='POST', url='/v1.0/oauth2PermissionGrants')


def test_the_duplicate_error_graph_answers_is_recognised_by_its_code():
    err = error_from_response(_answer(409, 'Request_MultipleObjectsWithSameKeyValue', 'Permission entry already exists.'))
    assert is_duplicate_grant_error(err) and not is_not_replicated_error(err)
    # The code alone is enough, whatever the status and message.
    assert is_duplicate_grant_error(error_from_response(_answer(400, 'Request_MultipleObjectsWithSameKeyValue', 'x')))


def test_a_403_gets_the_permissions_hint_once_and_reads_as_before():
    err = error_from_response(_answer(403, DENIED['code'], DENIED['message']))
    bare = str(err)
    assert 'docs/permissions.md' not in bare  # the transport no longer knows which permissions grants need
    assert str(with_permissions_hint(with_permissions_hint(err))) == bare + ' ' + PERMISSIONS_HINT
    other = error_from_response(_answer(409, 'Conflict', 'no'))
    assert str(with_permissions_hint(other)) == str(other)
    assert with_permissions_hint(ValueError('x')).args == ('x',)


def test_permission_hints_passes_other_exceptions_through():
    with pytest.raises(KeyError):
        with permission_hints():
            raise KeyError('k')
    with pytest.raises(GraphError) as info:
        with permission_hints():
            with permission_hints():  # nested entry points: still one hint
                raise GraphError('denied', status=403)
    assert str(info.value).count('docs/permissions.md') == 1


def test_every_service_entry_point_adds_the_hint(graph, sleeper):
    graph.add_fault('GET', r'^/servicePrincipals', 'status', times=100, **DENIED)
    single = GrantService(graph, api_version=graph.api_version, sleep=sleeper)
    calls = [
        lambda: single.query({'client': 'Contoso HR Portal'}),
        lambda: single.ensure(dict(client='Contoso HR Portal', resource='Microsoft Graph', state='present',
                                   scopes=['User.Read'])),
        lambda: BulkGrantService(graph, api_version=graph.api_version, sleep=sleeper).ensure_all(
            [dict(client='Contoso HR Portal', resource='Microsoft Graph', scopes=['User.Read'])]),
    ]
    for call in calls:
        with pytest.raises(GraphError) as info:
            call()
        assert info.value.status == 403 and PERMISSIONS_HINT in str(info.value)
