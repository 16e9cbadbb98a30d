# Shared shell helpers for scripts/*.sh (msgraph.grants). Source it; do not run it.
# shellcheck shell=bash

MSG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONDONTWRITEBYTECODE=1
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_NO_INPUT=1

# The two Python environments of the test matrix.
export MSG_CORE_DEFAULT=2.21
msg_venv_dir() {       # msg_venv_dir CORE -> absolute venv path
    case "$1" in
        2.21) echo "$MSG_ROOT/.venv" ;;
        2.16) echo "$MSG_ROOT/.venv-2.16" ;;
        *) msg_die "unknown core line '$1' (supported: 2.21, 2.16)" ;;
    esac
}
msg_requirements() {   # msg_requirements CORE -> requirements file
    case "$1" in
        2.21) echo "$MSG_ROOT/requirements/dev.txt" ;;
        2.16) echo "$MSG_ROOT/requirements/core-2.16.txt" ;;
        *) msg_die "unknown core line '$1' (supported: 2.21, 2.16)" ;;
    esac
}

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ] && [ "${CI:-}" != "true" ]; then
    _msg_bold=$'\e[1m'; _msg_red=$'\e[31m'; _msg_green=$'\e[32m'; _msg_yellow=$'\e[33m'; _msg_reset=$'\e[0m'
else
    _msg_bold=""; _msg_red=""; _msg_green=""; _msg_yellow=""; _msg_reset=""
fi

msg_info() { printf '%s==>%s %s\n' "$_msg_bold" "$_msg_reset" "$*"; }
msg_warn() { printf '%sWARNING:%s %s\n' "$_msg_yellow" "$_msg_reset" "$*" >&2; }
msg_die()  { printf '%sERROR:%s %s\n' "$_msg_red" "$_msg_reset" "$*" >&2; exit 1; }
msg_ok()   { printf '%s%s%s' "$_msg_green" "$*" "$_msg_reset"; }
msg_bad()  { printf '%s%s%s' "$_msg_red" "$*" "$_msg_reset"; }

msg_now() { date +%s.%N 2>/dev/null || date +%s; }
msg_elapsed() {        # msg_elapsed START -> seconds with one decimal
    awk -v s="$1" -v e="$(msg_now)" 'BEGIN { printf "%.1f", e - s }'
}

# Python interpreters ------------------------------------------------------------------------------------------

msg_pyenv_root() {
    if [ -n "${PYENV_ROOT:-}" ] && [ -d "$PYENV_ROOT/versions" ]; then echo "$PYENV_ROOT"; return; fi
    if command -v pyenv >/dev/null 2>&1; then pyenv root 2>/dev/null && return; fi
    [ -d "$HOME/.pyenv/versions" ] && echo "$HOME/.pyenv"
}

# msg_find_python MINOR... : print the path of the first interpreter found for the given minor versions (e.g. 3.12),
# preferring pyenv's installed versions (highest patch release first), then the same names on PATH.
msg_find_python() {
    local root minor candidate
    root="$(msg_pyenv_root || true)"
    for minor in "$@"; do
        if [ -n "$root" ]; then
            # shellcheck disable=SC2012
            for candidate in $(ls -d "$root"/versions/"$minor".*/bin/python"$minor" 2>/dev/null | sort -t. -k3,3nr); do
                if [ -x "$candidate" ] && "$candidate" -c 'import venv, ensurepip' >/dev/null 2>&1; then
                    echo "$candidate"; return 0
                fi
            done
        fi
        candidate="$(command -v "python$minor" 2>/dev/null || true)"
        if [ -n "$candidate" ] && "$candidate" -c 'import venv, ensurepip' >/dev/null 2>&1; then
            echo "$candidate"; return 0
        fi
    done
    # python3 itself, when it is one of the wanted versions
    candidate="$(command -v python3 2>/dev/null || true)"
    if [ -n "$candidate" ]; then
        local have
        have="$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
        for minor in "$@"; do
            if [ "$have" = "$minor" ] && "$candidate" -c 'import venv, ensurepip' >/dev/null 2>&1; then
                echo "$candidate"; return 0
            fi
        done
    fi
    return 1
}

# msg_require_venv CORE: make sure the venv for CORE is bootstrapped (quiet when already up to date).
msg_require_venv() {
    bash "$MSG_ROOT/scripts/bootstrap.sh" --core "$1"
}

# Collection copies for ansible-test -----------------------------------------------------------------------------

# msg_sync_collection DEST: make DEST (…/ansible_collections/msgraph/grants) hold exactly the files of the working
# tree that git would offer (tracked + untracked-not-ignored: `git ls-files -co --exclude-standard`), or, without
# git, every file except the usual build/venv/cache directories. Files are copied only when size or mtime changed;
# files gone from the tree are deleted from DEST. DEST/tests/output (ansible-test's results) is kept.
# DEST becomes its own (empty) git repository: ansible-test lists content with `git ls-files` from the nearest .git
# upward, and without one it would find this repository, where .tmp/ is ignored, and see no files at all.
msg_sync_collection() {
    local dest="$1"
    mkdir -p "$dest"
    python3 "$MSG_ROOT/scripts/sync-collection.py" "$MSG_ROOT" "$dest"
    if command -v git >/dev/null 2>&1 && [ ! -e "$dest/.git" ]; then
        git init -q "$dest"
    fi
}

# msg_extra_pythons_path: a PATH prefix with pyenv's interpreters for the module-side Python versions other than
# the venv's own (3.9, 3.10, 3.11, 3.13, 3.14, when installed), so that ansible-test's compile and import sanity
# tests also run on them. Empty when there are none.
msg_extra_pythons_path() {
    local root minor dir out=""
    root="$(msg_pyenv_root || true)"
    [ -n "$root" ] || return 0
    for minor in 3.9 3.10 3.11 3.13 3.14; do
        # shellcheck disable=SC2012
        dir="$(ls -d "$root"/versions/"$minor".*/bin 2>/dev/null | sort -t. -k3,3nr | head -n1)"
        if [ -n "$dir" ] && [ -x "$dir/python$minor" ]; then out="$out$dir:"; fi
    done
    printf '%s' "$out"
}
