#!/usr/bin/env bash
# Create or update the Python environment that the other scripts use. Idempotent; fast when up to date.
#
#   scripts/bootstrap.sh               .venv      Python 3.12 (3.13/3.14 as fall-backs), requirements/dev.txt
#   scripts/bootstrap.sh --core 2.16   .venv-2.16 Python 3.11, requirements/core-2.16.txt (oldest supported leg)
#   scripts/bootstrap.sh --force       reinstall even when the stamp matches
#
# Python comes from pyenv's installed versions ($(pyenv root)/versions/3.12.*) or from python3.12 on PATH.
# The venv holds a stamp (hash of the requirements files + interpreter version); a match skips pip entirely.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

core="$MSG_CORE_DEFAULT"
force=0
while [ $# -gt 0 ]; do
    case "$1" in
        --core) core="${2:?--core needs a value (2.21 or 2.16)}"; shift 2 ;;
        --core=*) core="${1#--core=}"; shift ;;
        --force) force=1; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) msg_die "unknown argument: $1 (try --help)" ;;
    esac
done

venv="$(msg_venv_dir "$core")"
req="$(msg_requirements "$core")"
case "$core" in
    2.21) wanted=(3.12 3.13 3.14) ;;
    2.16) wanted=(3.11) ;;
esac

# The interpreter already in the venv, when it is usable and of a wanted version, is kept as is.
venv_version=""
if [ -x "$venv/bin/python" ]; then
    venv_version="$("$venv/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || true)"
fi
keep_venv=0
if [ -n "$venv_version" ]; then
    for m in "${wanted[@]}"; do
        case "$venv_version" in "$m".*) keep_venv=1 ;; esac
    done
fi

# Stamp: every requirements file that takes part (the file, its -r includes) + interpreter version + core line.
stamp_inputs() {
    local f="$1"
    printf 'file %s\n' "${f#"$MSG_ROOT"/}"
    cat "$f"
    local inc
    # shellcheck disable=SC2013
    for inc in $(sed -n 's/^[[:space:]]*-r[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$f"); do
        stamp_inputs "$(cd "$(dirname "$f")" && cd "$(dirname "$inc")" && pwd)/$(basename "$inc")"
    done
}
compute_stamp() {   # compute_stamp PYTHON_VERSION
    { echo "core $core"; echo "python $1"; stamp_inputs "$req"; } | sha256sum | cut -d' ' -f1
}

if [ "$keep_venv" = 1 ] && [ "$force" = 0 ] && [ -f "$venv/.bootstrap-stamp" ] \
        && [ "$(cat "$venv/.bootstrap-stamp")" = "$(compute_stamp "$venv_version")" ]; then
    msg_info "bootstrap: ${venv#"$MSG_ROOT"/} is up to date (Python $venv_version, $(basename "$req"))"
    exit 0
fi

start="$(msg_now)"
if [ "$keep_venv" = 0 ]; then
    python="$(msg_find_python "${wanted[@]}")" || msg_die "no Python ${wanted[*]} found.
  Looked in $(msg_pyenv_root || echo '<no pyenv>')/versions/<version>/bin and on PATH (python${wanted[0]}).
  Install one (e.g. 'pyenv install ${wanted[0]}') and run this again."
    if [ -e "$venv" ]; then
        msg_info "bootstrap: removing ${venv#"$MSG_ROOT"/} (Python '${venv_version:-unusable}', want ${wanted[*]})"
        rm -rf "$venv"
    fi
    msg_info "bootstrap: creating ${venv#"$MSG_ROOT"/} with $python ($("$python" -V 2>&1))"
    "$python" -m venv "$venv"
    venv_version="$("$venv/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
fi

rm -f "$venv/.bootstrap-stamp"
msg_info "bootstrap: installing ${req#"$MSG_ROOT"/} into ${venv#"$MSG_ROOT"/} (Python $venv_version)"
pip_quiet=(--quiet)
[ "${MSG_VERBOSE:-0}" = 1 ] && pip_quiet=()
"$venv/bin/python" -m pip install "${pip_quiet[@]}" -r "$req"
"$venv/bin/python" -m pip check || msg_die "pip check found broken requirements in ${venv#"$MSG_ROOT"/}"
compute_stamp "$venv_version" > "$venv/.bootstrap-stamp"
msg_info "bootstrap: ${venv#"$MSG_ROOT"/} ready in $(msg_elapsed "$start") s: $("$venv/bin/ansible" --version 2>/dev/null | head -n1)"
