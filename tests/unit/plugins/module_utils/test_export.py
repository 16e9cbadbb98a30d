# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure export (``_export``): a tenant's grants and app role assignments as the role's variables and vars file."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
import yaml

from ansible_collections.msgraph.grants.plugins.module_utils._export import (
    DirectoryObject,
    ambiguous_names_error,
    assignment_reads,
    build_export,
    exclusive_warning,
    header_lines,
    render,
    yaml_scalar,
)
from ansible_collections.msgraph.grants.plugins.module_utils._grants import GrantInputError

GRAPH = DirectoryObject('sp', '1F7A3C52-0000-4000-8000-000000000001', 'Microsoft Graph',
                        app_id='00000003-0000-0000-c000-000000000000',
                        app_roles=[{'id': 'df021288-bdef-4463-88db-98f22de89214', 'value': 'User.Read.All'},
                                   {'id': '5b567255-7703-4780-807c-7be8301ae99b', 'value': 'Group.Read.All'}])
ORDERS = DirectoryObject('sp', '4c0d6f85-0000-4000-8000-000000000002', 'Contoso Orders API',
                         app_id='9d1e7a96-2b8c-4f0e-9a5b-6c7d8e9fa0b1', app_roles=[])
HR = DirectoryObject('sp', 'a0000000-0000-4000-8000-000000000003', 'Contoso HR Portal',
                     app_id='ae2f8ba7-3c9d-4a1f-8b6c-7d8e9fa0b1c2')
PAYROLL = DirectoryObject('sp', 'b0000000-0000-4000-8000-000000000004', 'Contoso Payroll',
                          app_id='bf309cb8-4d0e-4b2a-9c7d-8e9fa0b1c2d3')
MEGAN = DirectoryObject('user', 'c0000000-0000-4000-8000-000000000005', 'Megan Bowen',
                        user_principal_name='megan@contoso.com')
GUEST = DirectoryObject('user', 'd0000000-0000-4000-8000-000000000006', 'Adele Vance',
                        user_principal_name='adele_fabrikam.com#EXT#@contoso.com')
OBJECTS = dict((o.id.lower(), o) for o in (GRAPH, ORDERS, HR, PAYROLL, MEGAN, GUEST))


def grant(gid, client, resource, scope, user=None):
    return {'id': gid, 'clientId': client.id, 'resourceId': resource.id, 'scope': scope,
            'consentType': 'Principal' if user else 'AllPrincipals', 'principalId': user.id if user else None}


GRANTS = [
    grant('g4', PAYROLL, GRAPH, 'User.Read', GUEST),
    grant('g1', PAYROLL, ORDERS, 'Orders.Read'),
    grant('g2', HR, GRAPH, ' profile  openid User.Read'),
    grant('g3', HR, GRAPH, 'Mail.Read', MEGAN),
]
ASSIGNMENTS = [
    {'id': 'a1', 'principalId': PAYROLL.id, 'resourceId': GRAPH.id.lower(), 'appRoleId': '5B567255-7703-4780-807c-7be8301ae99b'},
    {'id': 'a2', 'principalId': PAYROLL.id, 'resourceId': GRAPH.id, 'appRoleId': 'df021288-bdef-4463-88db-98f22de89214'},
]


def test_grants_by_app_id_sorted_with_scopes_sorted_and_per_user_left_out():
    export = build_export(GRANTS, [], OBJECTS)
    assert export.items()['delegated_permissions_grants'] == [
        {'client': HR.app_id, 'resource': GRAPH.app_id, 'scopes': ['User.Read', 'openid', 'profile']},
        {'client': PAYROLL.app_id, 'resource': ORDERS.app_id, 'scopes': ['Orders.Read']},
    ]
    assert export.not_exported == []


def test_per_user_grants_by_upn_after_the_admin_consent_of_the_same_pair():
    items = build_export(GRANTS, [], OBJECTS, include_user_consents=True).items()['delegated_permissions_grants']
    assert [(i['client'], i['resource'], i.get('principal')) for i in items] == [
        (HR.app_id, GRAPH.app_id, None),
        (HR.app_id, GRAPH.app_id, 'megan@contoso.com'),
        (PAYROLL.app_id, GRAPH.app_id, 'adele_fabrikam.com#EXT#@contoso.com'),
        (PAYROLL.app_id, ORDERS.app_id, None),
    ]
    assert all('consent_type' not in i for i in items)  # follows from principal, as the role's items say it


@pytest.mark.parametrize('key, client, resource', [
    ('object_id', HR.id, GRAPH.id),
    ('display_name', 'Contoso HR Portal', 'Microsoft Graph'),
])
def test_keys(key, client, resource):
    first = build_export(GRANTS, [], OBJECTS, key=key).items()['delegated_permissions_grants'][0]
    assert (first['client'], first['resource']) == (client, resource)


def test_an_unknown_key_is_refused():
    with pytest.raises(GrantInputError, match="key 'name' is not one of app_id, object_id, display_name"):
        build_export(GRANTS, [], OBJECTS, key='name')


def test_app_role_assignments_grouped_per_pair_by_value():
    export = build_export([], ASSIGNMENTS, OBJECTS)
    assert export.items()['delegated_permissions_app_role_assignments'] == [
        {'client': PAYROLL.app_id, 'resource': GRAPH.app_id, 'app_roles': ['Group.Read.All', 'User.Read.All']}]


def test_what_cannot_be_declared_is_left_out_and_said():
    gone = 'e0000000-0000-4000-8000-000000000009'
    grants = [grant('g9', HR, GRAPH, 'User.Read'), dict(grant('g8', HR, ORDERS, 'Orders.Read'), resourceId=gone),
              dict(grant('g7', HR, GRAPH, 'Mail.Read', MEGAN), principalId=gone), grant('g6', PAYROLL, ORDERS, '  ')]
    assignments = [dict(ASSIGNMENTS[0], appRoleId='00000000-0000-0000-0000-000000000000'),
                   dict(ASSIGNMENTS[1], appRoleId='0f1e2d3c-4b5a-4968-8776-655443322110')]
    export = build_export(grants, assignments, OBJECTS, include_user_consents=True)
    assert len(export.grants) == 1 and export.app_role_assignments == []
    assert export.not_exported == sorted([
        'app role assignment a1: the default access role (00000000-0000-0000-0000-000000000000 on Microsoft Graph) '
        'has no value to declare',
        'app role assignment a2: an app role id the resource does not publish (0f1e2d3c-4b5a-4968-8776-655443322110 '
        'on Microsoft Graph) has no value to declare',
        'grant g6: no scopes (a grant without scopes cannot be declared)',
        'grant g7: user {0} not found'.format(gone),
        'grant g8: service principal {0} not found'.format(gone),
    ])
    # exclusive mode keeps a grant without scopes and the default access role; it deletes the others
    assert export.removed_by_exclusive == [t for t in export.not_exported if 'no scopes' not in t and 'default access' not in t]
    assert len(export.removed_by_exclusive) == 3


def test_a_duplicate_assignment_is_written_once_and_said_since_exact_mode_removes_it():
    export = build_export([], ASSIGNMENTS + [dict(ASSIGNMENTS[1], id='a3')], OBJECTS)
    assert export.items()['delegated_permissions_app_role_assignments'][0]['app_roles'] == ['Group.Read.All', 'User.Read.All']
    assert export.not_exported == export.removed_by_exclusive == [
        'app role assignment a3: a second assignment of User.Read.All to the same client on Microsoft Graph (written once)']
    assert 'will DELETE these 1 item(s)' in exclusive_warning(export.removed_by_exclusive)


def render_all(key='app_id', per_user=True, resources=()):
    export = build_export(GRANTS, ASSIGNMENTS, OBJECTS, key=key, include_user_consents=per_user)
    counts = {'grants': len(export.grants), 'app_role_assignments': len(export.app_role_assignments)}
    return export, render(export, header_lines(key, [], list(resources), per_user, counts))


def test_the_file_is_the_role_variables_with_a_comment_naming_each_entry():
    export, text = render_all()
    assert yaml.safe_load(text) == export.items()
    lines = text.splitlines()
    assert lines[0] == '---'
    assert '  # Contoso HR Portal -> Microsoft Graph (for Megan Bowen)' in lines
    assert '  # Contoso Payroll -> Microsoft Graph' in lines  # the app role pair
    entry = lines.index('  # Contoso HR Portal -> Microsoft Graph')
    assert lines[entry + 1:entry + 7] == [
        '  - client: ' + HR.app_id, '    resource: ' + GRAPH.app_id, '    scopes:',
        '      - User.Read', '      - openid', '      - profile']
    assert max(len(line) for line in lines) <= 120


def test_the_file_is_byte_stable_whatever_order_graph_answers_in():
    _export, text = render_all()
    again = render(build_export(list(reversed(GRANTS)), list(reversed(ASSIGNMENTS)), OBJECTS, include_user_consents=True),
                   header_lines('app_id', [], [], True, {'grants': 4, 'app_role_assignments': 1}))
    assert again == text
    assert text.endswith('\n') and not text.endswith('\n\n')


def test_display_name_key_comments_give_the_app_id():
    _export, text = render_all(key='display_name')
    assert '  - client: "Contoso HR Portal"  ' not in text
    assert '  # appId {0} -> appId {1}'.format(HR.app_id, GRAPH.app_id) in text
    assert yaml.safe_load(text)['delegated_permissions_grants'][0]['client'] == 'Contoso HR Portal'


def test_an_empty_export_is_two_empty_lists():
    export = build_export([], [], {})
    text = render(export, header_lines('app_id', ['Contoso HR Portal'], ['Microsoft Graph'], False,
                                       {'grants': 0, 'app_role_assignments': 0}))
    assert yaml.safe_load(text) == {'delegated_permissions_grants': [], 'delegated_permissions_app_role_assignments': []}
    assert 'refuses exclusive mode' in text


def test_a_resource_filtered_export_records_its_resources_for_the_role():
    export = build_export([], [], {})
    text = render(export, header_lines('app_id', [], ['Microsoft Graph'], False, {'grants': 0, 'app_role_assignments': 0}),
                  [(GRAPH.app_id, 'Microsoft Graph\nsecond line')])
    assert yaml.safe_load(text)['delegated_permissions_exported_resources'] == [GRAPH.app_id]
    assert '\n  - {0}  # Microsoft Graph second line\n'.format(GRAPH.app_id) in text


def test_an_export_without_per_user_consents_says_so_for_the_role():
    export = build_export([], [], {})
    counts = {'grants': 0, 'app_role_assignments': 0}
    without = render(export, header_lines('app_id', [], [], False, counts), user_consents=False)
    assert yaml.safe_load(without)['delegated_permissions_exported_user_consents'] is False
    assert 'refuses delegated_permissions_exclusive_include_user_consents' in without
    with_them = render(export, header_lines('app_id', [], [], True, counts), user_consents=True)
    assert 'delegated_permissions_exported_user_consents' not in with_them


@pytest.mark.parametrize('value', [
    'User.Read', 'yes', 'No', 'null', 'true', '1e3', '00000003-0000-0000-c000-000000000000', "O'Brien Tools",
    'adele_fabrikam.com#EXT#@contoso.com', '$svc-backup@contoso.com', 'a: b', '- x', '', ' padded ', 'Ünïcode "q"',
    '{{ lookup("pipe", "id") }}', '{% raw %}', 'line\nbreak', '*alias', '!tag', '@at', '%percent', '[x]',
])
def test_every_scalar_reads_back_as_the_same_string_and_is_never_templated(value):
    scalar = yaml_scalar(value)
    if '{{' in value or '{%' in value:
        assert scalar.startswith('!unsafe ')
        scalar = scalar[len('!unsafe '):]
    assert yaml.safe_load('v: ' + scalar)['v'] == value


def test_duplicate_display_names_are_refused_naming_them_and_suggesting_app_id():
    problem = ambiguous_names_error({
        'Contoso Reporting': [{'id': 'b-id', 'appId': 'b-app'}, {'id': 'a-id', 'appId': 'a-app'}],
        'Microsoft Graph': [{'id': 'g', 'appId': 'x'}]})
    assert problem == ("key display_name cannot be exported: these display names are not unique in the tenant, so "
                       "the file could not be applied back: 'Contoso Reporting' (id a-id, appId a-app; id b-id, "
                       "appId b-app). Use key app_id (the default) or object_id.")
    assert ambiguous_names_error({'Microsoft Graph': [{'id': 'g'}]}) is None


def _sp(object_id, roles=None):
    return DirectoryObject('sp', object_id, object_id, app_id=object_id, app_roles=roles)


def test_assignment_reads_choose_the_shorter_side_and_only_resources_publishing_application_roles():
    assert assignment_reads(['c1', 'c2'], ['r1']) == ('resource', ['r1'])
    assert assignment_reads(['c1'], ['r1', 'r2']) == ('principal', ['c1'])
    assert assignment_reads(['c1'], []) == ('principal', ['c1'])
    assert assignment_reads([], ['r1']) == ('resource', ['r1'])
    tenant = [_sp('app'), _sp('users-only', [{'value': 'Approver', 'allowedMemberTypes': ['User']}]),
              _sp('api', [{'value': 'Read.All', 'allowedMemberTypes': ['User', 'Application']}]),
              _sp('unknown-types', [{'value': 'X'}]), _sp('none', []),
              DirectoryObject('user', 'u', 'U', user_principal_name='u@x')]
    assert assignment_reads([], [], tenant) == ('resource', ['api', 'unknown-types'])
