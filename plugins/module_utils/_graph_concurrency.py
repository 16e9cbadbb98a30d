# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""Independent Graph requests a few at a time (docs/dev/architecture.md, "Concurrency").

Only requests that do not depend on each other's answers are sent together: the ``$batch`` envelopes of one call
and the listings of different collections (one listing's pages stay sequential: each page names the next). What
stays shared: one throttling hold (after a 429 no thread sends before its Retry-After, ``_graph_retries``), one
retry budget, one token. Each worker thread borrows a ``requests.Session`` of its own from the client's pool.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading

# Graph's throttling guidance asks clients to keep concurrency modest; 4 envelopes of 20 keep 80 requests in flight.
MAX_CONCURRENCY = 4


class Outcome(object):
    """What one task gave: ``value``, or ``error`` (the exception it raised), or neither when it was not started."""

    __slots__ = ('started', 'value', 'error')

    def __init__(self):
        self.started = False
        self.value = None
        self.error = None


def run_parallel(tasks, limit=MAX_CONCURRENCY, stop=None, wrap=None):
    """Run the callables ``tasks`` (no arguments) up to ``limit`` at a time; one Outcome per task, in input order.

    ``stop(error)``: after a task raised ``error``, True means that no further task is started (tasks already running
    finish). ``wrap(task)`` returns the callable a worker thread runs instead (the client lends it a session). With
    one task, or ``limit`` 1, everything runs in the calling thread, in order."""
    outcomes = [Outcome() for _task in tasks]
    state = {'next': 0, 'stopped': False}
    lock = threading.Lock()

    def take():
        with lock:
            if state['stopped'] or state['next'] >= len(tasks):
                return None
            index = state['next']
            state['next'] += 1
            outcomes[index].started = True
            return index

    def work(inline):
        while True:
            index = take()
            if index is None:
                return
            task = tasks[index] if inline or wrap is None else wrap(tasks[index])
            try:
                outcomes[index].value = task()
            except Exception as err:  # handed back to the caller, in input order
                outcomes[index].error = err
                if stop is not None and stop(err):
                    with lock:
                        state['stopped'] = True

    workers = min(limit, len(tasks))
    if workers <= 1:
        work(True)
        return outcomes
    threads = [threading.Thread(target=work, args=(False,)) for _worker in range(workers)]
    for thread in threads:
        thread.daemon = True
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def parallel(client, tasks, stop=None):
    """``client.parallel`` (a GraphClient), or the tasks one after the other for a client without it (test doubles)."""
    run = getattr(client, 'parallel', None)
    if run is not None:
        return run(tasks, stop=stop)
    return run_parallel(tasks, limit=1, stop=stop)


def values(outcomes):
    """The values of ``outcomes``, raising the first error in input order."""
    for outcome in outcomes:
        if outcome.error is not None:
            raise outcome.error
    return [outcome.value for outcome in outcomes]
