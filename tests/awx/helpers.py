# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Small helpers shared by the AWX / AAP tests."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# The venv's console scripts (ansible-galaxy, ansible-playbook, ansible-builder) next to the running python; not
# resolved, so that a venv python symlinked to a system interpreter still finds its own bin directory.
VENV_BIN = Path(sys.executable).parent


def venv_tool(name):
    path = VENV_BIN / name
    if not path.exists():
        pytest.skip("%s not found next to %s (run scripts/bootstrap.sh)" % (name, sys.executable))
    return str(path)


def run_checked(args, **kwargs):
    """subprocess.run that fails the test with the command's output."""
    result = subprocess.run([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, check=False, **kwargs)
    if result.returncode != 0:
        pytest.fail("%s exited with %s:\n%s" % (" ".join(str(a) for a in args), result.returncode, result.stdout[-4000:]))
    return result.stdout


def clean_env(collections_path=None, **extra):
    """os.environ without what the developer's shell may carry into a run: PYTHONPATH (scripts/test.sh puts the
    working tree there as ansible_collections), connection settings of the modules (AZURE_*, MSGRAPH_*) and
    machine-wide CA overrides; collections only from ``collections_path``."""
    env = dict((k, v) for k, v in os.environ.items()
               if k != "PYTHONPATH" and not k.startswith(("AZURE_", "MSGRAPH_", "ANSIBLE_"))
               and k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "IDENTITY_ENDPOINT",
                             "IDENTITY_HEADER", "MSI_ENDPOINT"))
    env["ANSIBLE_COLLECTIONS_SCAN_SYS_PATH"] = "false"
    if collections_path is not None:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections_path)
    env.update(extra)
    return env


# What a git clone of the repository holds (as scripts/lib.sh msg_sync_collection): tracked and untracked files that
# are not git-ignored; without git, every file outside venvs, caches and scratch directories.
_SKIP_DIRS = {".git", ".tmp", ".ansible", "__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache", ".tox"}


def _source_files():
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "ls-files", "-z", "-c", "-o", "--exclude-standard"],
                             check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
        return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for root, dirs, names in os.walk(str(REPO_ROOT)):
            rel = os.path.relpath(root, str(REPO_ROOT))
            rel = "" if rel == "." else rel + "/"
            dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".venv") and rel + d != "tests/output"]
            files.extend(rel + n for n in names if not n.endswith((".pyc", ".pyo")))
        return files


def copy_source_tree(dest):
    """Copy the repository as a fresh clone would have it into ``dest`` (for ansible-galaxy collection build)."""
    for rel in _source_files():
        src = REPO_ROOT / rel
        if not src.is_file():
            continue  # deleted but still tracked
        target = Path(dest) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(str(src), str(target))
    return Path(dest)
