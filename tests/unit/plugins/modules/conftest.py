# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Module tests: run a module's ``main()`` through ansible-core's own ``patch_module_args`` (2.19+), with the
GraphClient that ``GraphModule`` builds replaced by the strict fake Graph (``tests/unit/utils/fake_graph.py``, its
fixtures in ``../conftest.py``), so that argument parsing, mutually_exclusive / required_if rules, check mode and diff
all go through AnsibleModule."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible_collections.msgraph.grants.tests.unit.utils.module_harness import (
    CONNECTION, SECRET, ModuleRun, patch_module_args)
from ansible_collections.msgraph.grants.plugins.module_utils import _graph_module  # noqa: E402
from ansible_collections.msgraph.grants.plugins.module_utils._grant_service import GrantService  # noqa: E402
from ansible_collections.msgraph.grants.plugins.module_utils._auth_settings import OPTION_ENV  # noqa: E402


@pytest.fixture
def run_module(graph, sleeper, monkeypatch, capsys):
    """``run_module(main, args, check=False, diff=False, fake=graph)`` -> ModuleRun.

    The fake replaces the GraphClient that GraphModule constructs; the arguments it was built with are kept in
    ``run_module.client_args``. GrantService's default ``sleep`` becomes ``sleeper`` (the modules do not pass one),
    so no test ever really sleeps. Every run is checked: the client secret never appears in the output, and a
    failure message never holds a traceback.
    """
    for names in OPTION_ENV.values():
        for name in names:
            monkeypatch.delenv(name, raising=False)
    defaults = GrantService.__init__.__defaults__
    assert len(defaults) == 5 and callable(defaults[-2]), 'GrantService.__init__ changed: adapt this fixture'
    monkeypatch.setattr(GrantService.__init__, '__defaults__', defaults[:-2] + (sleeper, defaults[-1]))
    built = []

    def run(main, args, check=False, diff=False, fake=None):
        fake = fake if fake is not None else graph

        def factory(graph_root, api_version, token_provider, **kwargs):
            built.append(dict(graph_root=graph_root, api_version=api_version, **kwargs))
            assert api_version == fake.api_version, 'the module asked for %s' % api_version
            return fake
        monkeypatch.setattr(_graph_module, 'GraphClient', factory)
        module_args = dict(CONNECTION)
        module_args.update(args)
        module_args['_ansible_check_mode'] = check
        module_args['_ansible_diff'] = diff
        capsys.readouterr()
        with patch_module_args(module_args):
            with pytest.raises(SystemExit) as info:
                main()
        out = capsys.readouterr().out
        result = json.loads(out)
        assert SECRET not in out
        if result.get('failed'):
            assert 'Traceback' not in result.get('msg', '')
            assert info.value.code == 1
        else:
            assert info.value.code == 0
        return ModuleRun(info.value.code, result, out)

    run.client_args = built
    return run
