# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run one of the collection's modules directly, as Ansible's module debugging entry point does (args file), with
two test-only extras:

    python _modrun.py MODULE ARGS_FILE [--ready FILE --go FILE [--offset SECONDS]] [--no-guard]

--ready/--go import everything first (msal, requests, cryptography: most of a run's start-up time), create the READY
             file, wait for the GO file, which holds a wall-clock time, and sleep until that time (+ offset): two
             processes released this way hit Graph at the same moment (the concurrency trials).
--no-guard   the BASELINE of the concurrency figures only: ReconcileSettings(merge_rounds=0), i.e. the module
             without its re-read-after-write guard, to measure what the guard buys. Never used for a pass/fail
             figure.

PYTHONPATH must hold the directory that has ``ansible_collections/msgraph/grants`` (harness.base_env does it).
"""

import importlib
import os
import sys
import time


def main():
    argv = sys.argv[1:]
    module, args_path = argv[0], argv[1]
    ready = go = None
    offset = 0.0
    no_guard = False
    rest = argv[2:]
    while rest:
        option = rest.pop(0)
        if option == "--ready":
            ready = rest.pop(0)
        elif option == "--go":
            go = rest.pop(0)
        elif option == "--offset":
            offset = float(rest.pop(0))
        elif option == "--no-guard":
            no_guard = True
        else:
            raise SystemExit("unknown option %s" % option)
    mod = importlib.import_module("ansible_collections.msgraph.grants.plugins.modules.%s" % module)
    if no_guard:
        writer = importlib.import_module("ansible_collections.msgraph.grants.plugins.module_utils._grant_writer")
        original = writer.ReconcileSettings.__init__

        def without_guard(self, *args, **kwargs):
            kwargs["merge_rounds"] = 0
            original(self, *args, **kwargs)

        writer.ReconcileSettings.__init__ = without_guard
    if go is not None:
        with open(ready, "w") as handle:
            handle.write("ready\n")
        deadline = time.time() + 120
        while not os.path.exists(go) and time.time() < deadline:
            time.sleep(0.002)
        with open(go) as handle:
            start_at = float(handle.read().strip()) + offset
        delay = start_at - time.time()
        if delay > 0:
            time.sleep(delay)
        elif delay < -0.05:
            sys.stderr.write("modrun: started %.3f s late\n" % -delay)
    sys.argv = [sys.argv[0], args_path]
    mod.main()


if __name__ == "__main__":
    main()
