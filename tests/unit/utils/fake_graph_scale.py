# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""A tenant at (small) scale for the read planner's tests (test_bulk_reads.py): many clients with their grant on
Microsoft Graph, and background on Microsoft Graph the runs do not manage (AllPrincipals grants of other apps and
per-user consents), on top of the standard fake tenant."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import ADELE_ID, RESOURCE_ID, standard_tenant


def scale_id(kind, index):
    return '%08x-0000-4000-8000-%012x' % (index, kind)


def scale_tenant(clients=30, granted=30, background=50, user_consents=40):
    """The standard tenant plus ``clients`` clients "Scale Client n" (the first ``granted`` of them with their
    AllPrincipals grant on Microsoft Graph, scope User.Read), ``background`` other apps with theirs, and
    ``user_consents`` per-user consents of Adele to the first of those apps."""
    graph = standard_tenant()
    for n in range(clients):
        graph.add_sp(scale_id(1, n), scale_id(2, n), 'Scale Client %03d' % n)
        if n < granted:
            graph.add_grant(scale_id(1, n), RESOURCE_ID, 'User.Read')
    for n in range(max(background, user_consents)):
        graph.add_sp(scale_id(3, n), scale_id(4, n), 'Scale Other %03d' % n)
        if n < background:
            graph.add_grant(scale_id(3, n), RESOURCE_ID, 'openid')
        if n < user_consents:
            graph.add_grant(scale_id(3, n), RESOURCE_ID, 'Mail.Read', principal_id=ADELE_ID)
    return graph


def refuse(graph, clause, status=400):
    """Graph answers ``status`` to every grant listing whose ``$filter`` holds ``clause`` (a combination of filters
    Graph might refuse)."""
    def hook(fake, call):
        if clause in call.query.get('$filter', ''):
            return fake._error(call.method, call.path, status, 'Request_UnsupportedQuery', 'Unsupported Query.')  # pylint: disable=protected-access
        return None
    return graph.add_fault('GET', '^/oauth2PermissionGrants$', 'hook', times=1000, hook=hook)


def listings(graph):
    """The grant listings of a resource the run sent (their ``$filter``)."""
    return [c.query.get('$filter') for c in graph.calls
            if c.method == 'GET' and c.path == '/oauth2PermissionGrants' and 'resourceId' in c.query.get('$filter', '')]
