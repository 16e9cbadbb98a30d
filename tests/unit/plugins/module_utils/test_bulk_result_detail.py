# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""``oauth2_grants``' ``result_detail: brief``: each entry of ``results`` holds only ``changed``, ``action`` and
``label``, the unchanged grants leave ``summary``, and everything else (``counts``, ``changes``, ``removed``, the
``--diff`` list, what is written) is what ``full`` gives."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.tests.unit.plugins.module_utils.test_bulk import bulk, item, mixed
from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import (
    CLIENT2_ID,
    CLIENT_ID,
    RESOURCE2_ID,
    RESOURCE_ID,
)


def run_both(fakes, sleeper, **kwargs):
    """The same list against two identical tenants, ``full`` then ``brief``; both results and tenants."""
    full_graph = fakes()
    _ids, items = mixed(full_graph)
    full_graph.add_grant(CLIENT2_ID, RESOURCE2_ID, 'Orders.Read')  # undeclared: deleted in exclusive mode
    brief_graph = full_graph.clone()
    full = bulk(full_graph, sleeper).ensure_all(items, **kwargs)
    brief = bulk(brief_graph, sleeper).ensure_all(items, brief=True, **kwargs)
    return full, brief, full_graph, brief_graph


@pytest.mark.parametrize('exclusive', [False, True])
def test_brief_entries_say_what_happened_to_each_item_and_nothing_else(fakes, sleeper, exclusive):
    full, brief, full_graph, brief_graph = run_both(fakes, sleeper, exclusive=exclusive)
    assert brief['results'] == [{'changed': r['changed'], 'action': r['action'], 'label': r['label']}
                                for r in full['results']]
    assert [r['action'] for r in brief['results']] == ['created', 'updated', 'deleted', 'unchanged']
    for key in ('changed', 'counts', 'changes', 'removed'):
        assert brief[key] == full[key], key
    assert len(brief['removed']) == (1 if exclusive else 0)
    assert brief['summary'] == dict(full['summary'], unchanged=[])
    assert full['summary']['unchanged'] and brief['counts']['unchanged'] == 1
    assert brief_graph.grants == full_graph.grants  # the same writes
    assert 'diff' not in brief and 'diff' not in full  # no --diff asked


def test_brief_keeps_the_diff_of_every_change(fakes, sleeper):
    full, brief, _full_graph, _brief_graph = run_both(fakes, sleeper, exclusive=True, diff=True)
    assert len(full['diff']) == 4  # created, updated, deleted, and the undeclared grant deleted
    assert brief['diff'] == full['diff']
    assert brief['diff'][0]['before_header'] == brief['results'][0]['label']


def test_the_full_diff_list_is_the_changed_entries_diffs(graph, sleeper):
    _ids, items = mixed(graph)
    result = bulk(graph, sleeper).ensure_all(items, diff=True)
    assert result['diff'] == [r['diff'] for r in result['results'] if r['changed']]
    assert bulk(graph, sleeper).ensure_all(items, diff=True).get('diff') is None  # nothing changed: no diff


def test_a_brief_entry_reports_what_the_single_path_did(graph, sleeper):
    """A create whose batched POST meets a grant the read missed is adopted and updated: brief says updated."""
    graph.duplicate_status = 409
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Mail.Read')
    graph.hide(gid, 1)
    result = bulk(graph, sleeper).ensure_all([item(scopes=['User.Read'], scope_mode='append')], brief=True)
    assert result['results'] == [{'changed': True, 'action': 'updated', 'label': 'Contoso HR Portal -> Microsoft Graph'}]
    assert result['summary']['updated'] == ['Contoso HR Portal -> Microsoft Graph']


def test_a_change_line_names_the_scopes_an_update_moves_and_nothing_else():
    from ansible_collections.msgraph.grants.plugins.module_utils._bulk import change_line
    assert change_line({'action': 'updated', 'label': 'A -> B', 'scopes_added': ['Mail.Read'],
                        'scopes_removed': ['Calendars.Read', 'Files.Read']}) == \
        'updated: A -> B, scopes +Mail.Read -Calendars.Read -Files.Read'
    assert change_line({'action': 'created', 'label': 'A -> B', 'scopes_added': ['Mail.Read']}) == 'created: A -> B'
    assert change_line({'action': 'deleted', 'label': 'A -> B', 'scopes_removed': ['Mail.Read']}) == 'deleted: A -> B'
