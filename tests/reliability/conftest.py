# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The reliability and security suite (docs/reliability.md): fault injection, concurrency, bad input, secret
hygiene and the throttling budget, all against the local Graph emulator.

    # the fast subset (CI):
    PYTHONPATH=.tmp/collections:emulator .venv/bin/python -m pytest tests/reliability -p no:randomly
    # the full run (>= 100 fault runs, >= 50 concurrency trials):
    scripts/reliability.sh            # = MSGRAPH_RELIABILITY_FULL=1 pytest tests/reliability

Environment (or the matching command line options):
    MSGRAPH_RELIABILITY_FULL=1        full run (--reliability-full)
    MSGRAPH_RELIABILITY_SEED=N        the seed of every scenario, fault schedule and trial offset (--reliability-seed)
    MSGRAPH_RELIABILITY_FAULT_RUNS=N  override the number of fault-injection runs
    MSGRAPH_RELIABILITY_TRIALS=N      override the number of concurrency trials
    MSGRAPH_RELIABILITY_WORKERS=N     parallel emulators for the fault runs (default 2)

At the end the figures table is printed and written to tests/reliability/results/latest.md (and fast.md or
full.md); that directory is git-ignored.
"""

import datetime
import os
import shlex
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "emulator"))
sys.path.insert(0, str(HERE))

from graph_emulator.testing import running_emulator  # noqa: E402  pylint: disable=wrong-import-position
from harness import Figures, ensure_collections_link, machine_description  # noqa: E402  pylint: disable=wrong-import-position

DEFAULT_SEED = 20251123
FAST = dict(fault_runs=20, trials=10)
FULL = dict(fault_runs=120, trials=60)


class Settings(object):
    def __init__(self, config):
        env_full = os.environ.get("MSGRAPH_RELIABILITY_FULL", "").strip().lower() in ("1", "true", "yes", "on")
        self.full = bool(config.getoption("reliability_full")) or env_full
        seed = config.getoption("reliability_seed") or os.environ.get("MSGRAPH_RELIABILITY_SEED") or DEFAULT_SEED
        self.seed = int(seed)
        counts = FULL if self.full else FAST
        self.fault_runs = int(os.environ.get("MSGRAPH_RELIABILITY_FAULT_RUNS") or counts["fault_runs"])
        self.trials = int(os.environ.get("MSGRAPH_RELIABILITY_TRIALS") or counts["trials"])
        self.workers = max(1, int(os.environ.get("MSGRAPH_RELIABILITY_WORKERS") or 2))

    @property
    def mode(self):
        return "full" if self.full else "fast"


def pytest_addoption(parser):
    group = parser.getgroup("reliability", "msgraph.grants reliability suite")
    group.addoption("--reliability-full", action="store_true", default=False,
                    help="full run (>= 100 fault runs, >= 50 concurrency trials); also MSGRAPH_RELIABILITY_FULL=1")
    group.addoption("--reliability-seed", default=None, help="seed (also MSGRAPH_RELIABILITY_SEED)")


def pytest_configure(config):
    config._reliability_settings = Settings(config)  # pylint: disable=protected-access
    config._reliability_figures = Figures()  # pylint: disable=protected-access
    config._reliability_started = time.time()  # pylint: disable=protected-access
    ensure_collections_link()


@pytest.fixture(scope="session")
def settings(request):
    return request.config._reliability_settings  # pylint: disable=protected-access


@pytest.fixture(scope="session")
def figures(request):
    return request.config._reliability_figures  # pylint: disable=protected-access


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """One emulator per test module (reset by the tests that need it)."""
    with running_emulator(tmp_path_factory.mktemp("emulator"), python=sys.executable) as emu:
        yield emu


def _command_line(config):
    settings = config._reliability_settings  # pylint: disable=protected-access
    env = ["MSGRAPH_RELIABILITY_SEED=%d" % settings.seed]
    if settings.full:
        env.insert(0, "MSGRAPH_RELIABILITY_FULL=1")
    for name in ("MSGRAPH_RELIABILITY_FAULT_RUNS", "MSGRAPH_RELIABILITY_TRIALS", "MSGRAPH_RELIABILITY_WORKERS"):
        if os.environ.get(name):
            env.append("%s=%s" % (name, os.environ[name]))
    args = list(config.invocation_params.args)
    return "%s PYTHONPATH=.tmp/collections:emulator .venv/bin/python -m pytest %s" % (
        " ".join(env), " ".join(shlex.quote(str(a)) for a in args) or "tests/reliability")


def _complete_run(config):
    """True when the whole suite ran (no -k/-m selection, no single file or test named)."""
    if getattr(config.option, "keyword", "") or getattr(config.option, "markexpr", ""):
        return False
    for arg in config.args:
        path = Path(str(arg).split("::", maxsplit=1)[0]).resolve()
        if path != HERE and HERE not in path.parents and path not in HERE.parents:
            continue
        if path != HERE and path not in HERE.parents:
            return False
    return True


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    figures = getattr(config, "_reliability_figures", None)
    if figures is None or not figures.rows:
        return
    settings = config._reliability_settings  # pylint: disable=protected-access
    elapsed = time.time() - config._reliability_started  # pylint: disable=protected-access
    stats = dict((key, len(value)) for key, value in terminalreporter.stats.items() if key in (
        "passed", "failed", "xfailed", "xpassed", "skipped", "error"))
    head = [
        "# msgraph.grants reliability figures (%s run)" % settings.mode,
        "",
        "- date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "- machine: %s" % machine_description(),
        "- command: `%s`" % _command_line(config),
        "- seed: %d; fault runs: %d; concurrency trials: %d; workers: %d" % (
            settings.seed, settings.fault_runs, settings.trials, settings.workers),
        "- pytest: %s; exit status %s; wall time %.0f s" % (
            ", ".join("%d %s" % (n, k) for k, n in sorted(stats.items())), int(exitstatus), elapsed),
        "- time per section (s): %s" % ", ".join("%s %.0f" % (k, v) for k, v in sorted(figures.timings.items())),
        "",
    ]
    text = "\n".join(head) + "\n" + figures.table() + "\n"
    details = getattr(figures, "details", None) or []
    for title, body in details:
        text += "\n## %s\n\n%s\n" % (title, body)
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    names = ["latest.md"]
    if _complete_run(config):
        names.append("%s.md" % settings.mode)   # only a run of the whole suite replaces fast.md / full.md
    for name in names:
        (out_dir / name).write_text(text)
    terminalreporter.write_sep("=", "msgraph.grants reliability figures (%s run, seed %d)" % (settings.mode, settings.seed))
    terminalreporter.write_line(figures.table())
    terminalreporter.write_line("(written to %s)" % (out_dir / "latest.md"))
