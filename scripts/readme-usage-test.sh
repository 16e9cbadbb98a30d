#!/usr/bin/env bash
# Run the README's "Use it in your playbooks" lines literally, as a new user would on a clean clone:
#
#   scripts/readme-usage-test.sh
#
# 1. copies what git would commit (tracked and untracked-but-not-ignored files) into a fresh directory: a clean
#    clone of the working tree, with this checkout's .venv linked in (bootstrap.sh then finds it up to date instead
#    of spending minutes on PyPI);
# 2. extracts the playbook (the ```yaml block after <!-- readme-usage-test: grants.yml -->) and the commands (the
#    ```sh block after <!-- readme-usage-test: commands -->) from README.md, not from a copy of them;
# 3. runs the commands with bash -e in that directory, with its own HOME (so ~/.ansible and the token cache are the
#    test's) and no AZURE_*/MSGRAPH_* variables of the caller;
# 4. checks what the README promises: the first playbook run changed something, the second changed nothing, no run
#    failed. The emulator is stopped whatever happens.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MSG_ROOT"

work="$(mktemp -d "${TMPDIR:-/tmp}/msgraph-readme.XXXXXX")"
clone="$work/clone"
mkdir -p "$clone" "$work/home"
cleanup() {
    # The README's own stop line, in case the block stopped before it.
    if [ -f "$clone/.tmp/emulator/emulator.json" ]; then
        (cd "$clone" && PYTHONPATH=emulator .venv/bin/python -m graph_emulator stop --state-dir .tmp/emulator) \
            > /dev/null 2>&1 || msg_warn "could not stop the README test's emulator"
    fi
    rm -rf "$work"
}
trap cleanup EXIT

git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [ -e "$f" ] && printf '%s\0' "$f"   # a deleted but not yet committed file is not in the clone either
done | tar --null -T - -cf - | tar -xf - -C "$clone"
[ -d "$MSG_ROOT/.venv" ] && ln -s "$(cd "$MSG_ROOT/.venv" && pwd -P)" "$clone/.venv"

# block MARKER: the fenced block right after the marker comment in README.md (fails if there is none).
block() {
    awk -v marker="<!-- readme-usage-test: $1 -->" '
        $0 == marker { found = 1; next }
        found == 1 && /^```/ { found = 2; next }
        found == 2 && /^```/ { exit }
        found == 2 { print }
        END { if (found != 2) exit 1 }' README.md
}
block grants.yml > "$clone/grants.yml" || msg_die "README.md has no yaml block after <!-- readme-usage-test: grants.yml -->"
block commands > "$work/commands.sh" || msg_die "README.md has no sh block after <!-- readme-usage-test: commands -->"
[ -s "$clone/grants.yml" ] && [ -s "$work/commands.sh" ] || msg_die "an empty README block"

msg_info "running the README's commands in a clean copy ($clone):"
sed 's/^/    /' "$work/commands.sh"
rc=0
(
    cd "$clone"
    for name in $(env | sed -n 's/^\(AZURE_[A-Z_]*\|MSGRAPH_[A-Z_]*\|ANSIBLE_[A-Z_]*\)=.*/\1/p'); do unset "$name"; done
    export HOME="$work/home" ANSIBLE_NOCOLOR=1
    bash -euo pipefail "$work/commands.sh"
) > "$work/output.txt" 2>&1 || rc=$?
cat "$work/output.txt"
[ "$rc" = 0 ] || msg_die "the README's commands failed (exit $rc)"

# The PLAY RECAP line of each playbook run, in order: the README says changed, then ok.
mapfile -t recaps < <(grep -E '^localhost +: ok=' "$work/output.txt")
[ "${#recaps[@]}" = 2 ] || msg_die "expected 2 playbook runs in the README's commands, found ${#recaps[@]}"
[[ "${recaps[0]}" =~ changed=1\ .*failed=0 ]] || msg_die "first run: expected changed=1 (the README says created): ${recaps[0]}"
[[ "${recaps[1]}" =~ changed=0\ .*failed=0 ]] || msg_die "second run: expected changed=0 (the README says ok): ${recaps[1]}"
msg_info "README 'Use it in your playbooks': the grant was created, then left alone, as the README says"
