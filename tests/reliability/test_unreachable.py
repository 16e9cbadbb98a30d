# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Graph unreachable with a cached token (the emulator a shell's MSGRAPH_GRAPH_URL still points at was stopped):
a real ``ansible`` run must fail in seconds, not sit out the retry budget, name the remedy, and show at -vvv every
retry it made. Before the connection budget of its own, this run took the whole retry_budget (114 s by default).
"""

import sys

from graph_emulator.testing import running_emulator
from harness import adhoc, base_env, connection, has_traceback

LIMIT = 15.0


def test_unreachable_graph_with_a_cached_token_fails_fast(tmp_path, figures):
    env = base_env(tmp_path / "home")
    cache = tmp_path / "token-cache"
    with running_emulator(tmp_path / "emulator", python=sys.executable) as emu:
        args = dict(connection(emu, token_cache=str(cache)), client="Contoso Payroll")
        first = adhoc("oauth2_grant_info", args, env, tmp_path, verbosity=0)
        assert first.result and not first.result.get("failed"), first.output[-2000:]
    # The emulator is gone: its port refuses connections; the token of the first run is in the cache.
    run = adhoc("oauth2_grant_info", args, env, tmp_path, verbosity=3)
    figures.add("Graph unreachable", "seconds until a cached-token run against a closed port fails", "%.1f" % run.elapsed,
                "limit %.0f s; retry_budget (default 120 s) is for throttling" % LIMIT)
    assert run.result and run.result.get("failed"), run.output[-3000:]
    assert run.elapsed < LIMIT, run.output[-3000:]
    msg = run.msg
    assert "cannot connect to Microsoft Graph at %s (connection refused)" % emu.url in msg, msg
    assert "MSGRAPH_GRAPH_URL" in msg and "Could not get a token" not in msg, msg  # the cached token was used
    assert [r["why"] for r in run.result["retries"]] == ["connection refused"] * 2, run.result
    assert "this run retried 2 times" in run.output and not has_traceback(run.output)
    assert emu.client_secret not in run.output
