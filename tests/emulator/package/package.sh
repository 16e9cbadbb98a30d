#!/usr/bin/env bash
# The Graph emulator as users get it: the msgraph-emulator wheel of emulator/, in a venv of its own (issue 19,
# docs/testing-offline.md). Used by scripts/test.sh (stages emulator-package and integration).
#
#   package.sh venv    print the path of a venv holding the wheel of the working tree's emulator/ (with [pytest]):
#                      .tmp/emulator-package/venv, rebuilt only when emulator/ or the pins changed
#   package.sh check   the user's view, in a fresh venv and from a directory outside the repository: build the wheel,
#                      install it, `msgraph-emulator start --seed my-tenant.yml`, run a user playbook (twice: the
#                      second run writes nothing) and a user pytest test through the msgraph_emulator fixture, check
#                      that a malformed seed fails with its line and reason, stop; install from git+file:// too.
#
# Needs: the repository's .venv (ansible-playbook; scripts/bootstrap.sh) and ANSIBLE_COLLECTIONS_PATH pointing at
# the working tree (scripts/test.sh sets both). Packages come from PyPI, pinned by requirements/dev.txt.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/lib.sh"
cd "$MSG_ROOT"
HERE="$MSG_ROOT/tests/emulator/package"

# build_venv DIR: DIR/venv with the wheel (built into DIR/dist) and its dependencies, pinned like .venv.
build_venv() {
    local dir="$1" python wheel
    python="$(msg_find_python 3.12 3.13 3.14)" || msg_die "no Python 3.12+ found (see scripts/bootstrap.sh)"
    rm -rf "$dir/venv" "$dir/dist"
    mkdir -p "$dir"
    "$python" -m venv "$dir/venv"
    "$dir/venv/bin/python" -m pip wheel --quiet --no-deps -w "$dir/dist" "$MSG_ROOT/emulator" >&2
    wheel="$(ls "$dir"/dist/msgraph_emulator-*.whl)"
    # Only the pinned lines: requirements/dev.txt's -r include would turn constraints into requirements.
    grep -E '^[A-Za-z0-9_.-]+==' requirements/dev.txt > "$dir/constraints.txt"
    "$dir/venv/bin/python" -m pip install --quiet -c "$dir/constraints.txt" "${wheel}[pytest]" >&2
}

emulator_files() {
    if git -C "$MSG_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
        git -C "$MSG_ROOT" ls-files -co --exclude-standard emulator
    else
        find emulator -type f ! -path '*/__pycache__/*'
    fi
}

emulator_stamp() {
    {
        emulator_files | LC_ALL=C sort | while read -r f; do
            if [ -f "$f" ]; then sha256sum "$f"; fi
        done
        grep -E '^[A-Za-z0-9_.-]+==' requirements/dev.txt
        msg_find_python 3.12 3.13 3.14
    } | sha256sum | cut -d' ' -f1
}

cmd_venv() {
    local dir="$MSG_ROOT/.tmp/emulator-package" stamp
    stamp="$(emulator_stamp)"
    if [ ! -x "$dir/venv/bin/msgraph-emulator" ] || [ "$(cat "$dir/stamp" 2>/dev/null)" != "$stamp" ]; then
        msg_info "emulator package: building the msgraph-emulator wheel into ${dir#"$MSG_ROOT"/}/venv" >&2
        build_venv "$dir"
        echo "$stamp" > "$dir/stamp"
    fi
    echo "$dir/venv"
}

# expect_seed_error WHAT FILE LINE REASON COMMAND...: COMMAND must exit 2 and name FILE:LINE and REASON.
expect_seed_error() {
    local what="$1" file="$2" line="$3" reason="$4" rc=0 err
    shift 4
    err="$("$@" 2>&1 >/dev/null)" || rc=$?
    if [ "$rc" != 2 ] || [[ "$err" != *"$file:$line:"* ]] || [[ "$err" != *"$reason"* ]]; then
        echo "FAILED: $what: want exit 2 and '$file:$line: ... $reason', got exit $rc: $err"
        return 1
    fi
    echo "ok: $what: $err"
}

cmd_check() {
    local work emu venv mark summary
    [ -x "$MSG_ROOT/.venv/bin/ansible-playbook" ] || msg_die ".venv has no ansible-playbook: run scripts/bootstrap.sh"
    work="$(mktemp -d "${TMPDIR:-/tmp}/msgraph-emulator-check.XXXXXX")"
    case "$work" in "$MSG_ROOT"/*) msg_die "the user project must be outside the repository (TMPDIR=$TMPDIR)" ;; esac
    venv="$work/venv"
    emu="$venv/bin/msgraph-emulator"
    # shellcheck disable=SC2064
    trap "'$emu' stop --state-dir '$work/project/.msgraph-emulator' >/dev/null 2>&1 || true; rm -rf '$work'" EXIT

    echo "---- build the wheel and install it into a fresh venv ($work/venv)"
    build_venv "$work"
    ls "$work/dist"

    echo "---- a user project outside the repository: $work/project"
    mkdir -p "$work/project"
    cp "$HERE/my-tenant.yml" "$HERE/site.yml" "$work/project/"
    cp "$HERE/check_tenant.py" "$work/project/test_tenant.py"
    printf '[pytest]\nmsgraph_emulator_seed = my-tenant.yml\n' > "$work/project/pytest.ini"
    cd "$work/project"

    echo "---- msgraph-emulator start --seed my-tenant.yml"
    "$emu" start --seed my-tenant.yml
    eval "$("$emu" env)"
    [ "$AZURE_TENANT_ID" = 3f2b9c1d-7a4e-4d8b-9c6f-1e2d3c4b5a69 ] || msg_die "env: not the tenant of my-tenant.yml"

    echo "---- the user's playbook, twice (the collection from the working tree, .venv's ansible-playbook)"
    "$MSG_ROOT/.venv/bin/ansible-playbook" site.yml
    mark="$("$emu" log --json | "$venv/bin/python" -c 'import json, sys; print(max([0] + [e["seq"] for e in json.load(sys.stdin)["requests"]]))')"
    "$MSG_ROOT/.venv/bin/ansible-playbook" site.yml
    "$emu" log --since "$mark"
    summary="$("$emu" log --since "$mark" --summary)"
    echo "$summary" | "$venv/bin/python" -c 'import json, sys; s = json.load(sys.stdin); sys.exit(s["writes"] != 0)' \
        || msg_die "the second run wrote: $summary"
    echo "ok: the second run made no write"

    echo "---- malformed seeds fail with the line and the reason"
    sed 's/consentType: Principal/consentType: principal/' my-tenant.yml > bad-tenant.yml
    local line
    line="$(grep -n 'consentType: principal' bad-tenant.yml | cut -d: -f1)"
    expect_seed_error "seed into the running emulator" bad-tenant.yml "$line" "must be one of AllPrincipals, Principal" \
        "$emu" seed bad-tenant.yml
    expect_seed_error "start with a bad seed" bad-tenant.yml "$line" "must be one of AllPrincipals, Principal" \
        "$emu" start --state-dir "$work/never" --seed bad-tenant.yml
    printf 'users:\n  - userPrincipalName: [a\n' > broken.yml
    expect_seed_error "YAML syntax" broken.yml 3 "not valid YAML" "$emu" seed broken.yml
    "$emu" seed my-tenant.yml

    echo "---- the user's pytest test (the msgraph_emulator fixture from the package's pytest11 entry point)"
    msgraph_emulator_deactivate
    PATH="$venv/bin:$MSG_ROOT/.venv/bin:$PATH" "$venv/bin/python" -m pytest -p no:cacheprovider -q test_tenant.py

    echo "---- msgraph-emulator stop"
    "$emu" stop
    [ ! -f .msgraph-emulator/emulator.json ] || msg_die "stop left .msgraph-emulator/emulator.json behind"

    if ! git -C "$MSG_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
        echo "---- not a git checkout: the git+file:// install is not tried"
        return 0
    fi
    echo "---- pip install git+file://$MSG_ROOT#subdirectory=emulator (the committed HEAD)"
    "$venv/bin/python" -m pip install --quiet --no-deps --target "$work/from-git" "git+file://$MSG_ROOT#subdirectory=emulator"
    [ -x "$work/from-git/bin/msgraph-emulator" ] && [ -f "$work/from-git/graph_emulator/seed_default.json" ] \
        || msg_die "the git install lacks the console script or the packaged seed"
    PYTHONPATH="$work/from-git" "$venv/bin/python" -m graph_emulator --help > /dev/null
    echo "ok: installed from git+file:// with its console script and package data"
}

case "${1:-}" in
    venv) cmd_venv ;;
    check) cmd_check ;;
    *) msg_die "usage: $0 venv|check" ;;
esac
