"""Make a copy of the collection hold exactly the files of the working tree that git would offer.

    python3 scripts/sync-collection.py SRC DEST

SRC is the working tree, DEST a .../ansible_collections/msgraph/grants directory (scripts/lib.sh,
msg_sync_collection, calls this for scripts/ansible-test.sh). The files are those of `git ls-files -co
--exclude-standard` (tracked + untracked-not-ignored), or, without git, every file except the usual build, venv and
cache directories. A file is copied only when its size, mtime or mode changed; files gone from the tree are deleted
from DEST, and so are the directories left empty. DEST/tests/output (ansible-test's results) and DEST/.git are kept.
Runs on the system python3 (no venv needed).
"""

from __future__ import print_function

import os
import shutil
import subprocess
import sys

KEEP = ("tests/output/", ".git/")
SKIP_DIRS = {".git", ".tmp", ".ansible", "__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache", ".tox"}


def git_files(src):
    """The files git would commit, or None when git (or the repository) is not there."""
    try:
        out = subprocess.run(["git", "-C", src, "ls-files", "-z", "-c", "-o", "--exclude-standard"],
                             check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


def walk_files(src):
    files = []
    for root, dirs, names in os.walk(src):
        rel = os.path.relpath(root, src)
        rel = "" if rel == "." else rel + "/"
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".venv")
                   and (rel + d) != "tests/output"]
        files.extend(rel + n for n in names if not n.endswith((".pyc", ".pyo")))
    return files


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.remove(path)


def same_file(s, d):
    st = os.stat(s)
    try:
        dt = os.lstat(d)
    except FileNotFoundError:
        return False
    return (not os.path.islink(d) and dt.st_size == st.st_size and int(dt.st_mtime) == int(st.st_mtime)
            and (dt.st_mode & 0o777) == (st.st_mode & 0o777))


def copy_one(s, d):
    """Bring DEST's copy of one file or symlink up to date; True when something was written."""
    if os.path.islink(s):
        target = os.readlink(s)
        if os.path.islink(d) and os.readlink(d) == target:
            return False
        if os.path.lexists(d):
            remove(d)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        os.symlink(target, d)
        return True
    if same_file(s, d):
        return False
    if os.path.islink(d) or os.path.isdir(d):
        remove(d)
    os.makedirs(os.path.dirname(d), exist_ok=True)
    shutil.copy2(s, d)
    return True


def prune(dest, wanted):
    """Delete what DEST holds beyond ``wanted``, then the directories left empty (kept trees excepted)."""
    removed = 0
    for root, dirs, names in os.walk(dest, topdown=True):
        rel = os.path.relpath(root, dest)
        rel = "" if rel == "." else rel + "/"
        dirs[:] = [d for d in dirs if not (rel + d + "/").startswith(KEEP)]
        for name in names:
            if (rel + name) not in wanted:
                os.remove(os.path.join(root, name))
                removed += 1
        for name in list(dirs):
            path = os.path.join(root, name)
            if os.path.islink(path) and (rel + name) not in wanted:
                os.remove(path)
                removed += 1
                dirs.remove(name)
    for root, dirs, names in os.walk(dest, topdown=False):
        rel = os.path.relpath(root, dest)
        if rel != "." and not (rel + "/").startswith(KEEP) and not os.listdir(root):
            os.rmdir(root)
    return removed


def sync(src, dest):
    files = git_files(src)
    if files is None:
        files = walk_files(src)
    wanted = set()
    copied = 0
    for rel in files:
        s = os.path.join(src, rel)
        if not os.path.lexists(s):      # deleted in the work tree but still in the index
            continue
        if os.path.isdir(s) and not os.path.islink(s):   # e.g. a nested repository
            continue
        wanted.add(rel)
        if copy_one(s, os.path.join(dest, rel)):
            copied += 1
    removed = prune(dest, wanted)
    print("synced %d files into %s (%d copied, %d removed)" % (len(wanted), dest, copied, removed))


def main(argv):
    if len(argv) != 3:
        print("usage: %s SRC DEST" % argv[0], file=sys.stderr)
        return 2
    sync(argv[1], argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
