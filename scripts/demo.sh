#!/usr/bin/env bash
# The one demo command of msgraph.grants: no Azure tenant needed.
#
#   scripts/demo.sh
#
# 1. bootstraps .venv (Python 3.12, pinned ansible-core 2.21; quick when already done);
# 2. starts the local Microsoft Graph emulator (HTTPS on 127.0.0.1, its own CA) with its state in
#    .tmp/demo-emulator, and exports its connection settings (env.sh: MSGRAPH_GRAPH_URL, AZURE_AUTHORITY_HOST,
#    MSGRAPH_CA_PATH, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET), which the modules read as option
#    fall-backs;
# 3. runs playbooks/demo.yml (or playbooks/smoke.yml while demo.yml does not exist) against it;
# 4. stops the emulator, whatever happened.
# Extra ansible-playbook options can be given: scripts/demo.sh -v
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MSG_ROOT"

VENV="$MSG_ROOT/.venv"
STATE="$MSG_ROOT/.tmp/demo-emulator"
COLLECTIONS="$MSG_ROOT/.tmp/collections"

bash scripts/bootstrap.sh --core 2.21

playbook=""
for candidate in playbooks/demo.yml playbooks/smoke.yml; do
    if [ -f "$candidate" ]; then playbook="$candidate"; break; fi
done
[ -n "$playbook" ] || msg_die "no playbooks/demo.yml (nor playbooks/smoke.yml) yet"
[ -f emulator/graph_emulator/__main__.py ] || msg_die "the emulator (emulator/graph_emulator) does not exist yet"

# The collection, as it is in this working tree, under a collections path.
link="$COLLECTIONS/ansible_collections/msgraph/grants"
mkdir -p "$(dirname "$link")"
if [ "$(readlink "$link" 2>/dev/null)" != "../../../.." ]; then
    rm -rf "$link"
    ln -s ../../../.. "$link"
fi

emulator() { PYTHONPATH="$MSG_ROOT/emulator" "$VENV/bin/python" -m graph_emulator "$@"; }
stop() {
    if [ -f "$STATE/emulator.json" ]; then
        emulator stop --state-dir "$STATE" >/dev/null 2>&1 || msg_warn "could not stop the emulator (${STATE#"$MSG_ROOT"/})"
        rm -f "$STATE/emulator.json"
        [ "${1:-}" = quiet ] || msg_info "emulator stopped"
    fi
}
trap stop EXIT

stop quiet   # a previous demo's emulator, if one was left running
rm -rf "$STATE"
msg_info "starting the Graph emulator (state in ${STATE#"$MSG_ROOT"/})"
emulator start --state-dir "$STATE"
# shellcheck disable=SC1091
source "$STATE/env.sh"

export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS"
export ANSIBLE_PYTHON_INTERPRETER="$VENV/bin/python"   # modules run with the venv's msal/requests
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
export ANSIBLE_NOCOWS=1 ANSIBLE_RETRY_FILES_ENABLED=false

# The command as one can paste it into a shell at the root of the clone (with the emulator's env.sh sourced):
# shell-quoted, with the collections path and the venv's ansible-playbook the demo uses.
shown() {
    "$VENV/bin/python" -c 'import shlex, sys; print(" ".join(shlex.quote(a) for a in sys.argv[1:]))' \
        "ANSIBLE_COLLECTIONS_PATH=${COLLECTIONS#"$MSG_ROOT"/}" .venv/bin/ansible-playbook "$@"
}

run() {   # run TITLE ansible-playbook-args...
    local title="$1"; shift
    echo
    msg_info "$title"
    echo "\$ $(shown "$@")"
    "$VENV/bin/ansible-playbook" "$@"
}

run "1/3: apply the declared grants (creates and updates what differs)" "$playbook" "$@"
run "2/3: the same again: nothing to do, every task ok (idempotent)" "$playbook" "$@"
run "3/3: preview a change (one more scope for the payroll app) with --check --diff: nothing is written" \
    "$playbook" --check --diff -e '{"demo_extra_scopes": ["Mail.Read"]}' "$@"

summary="$("$VENV/bin/python" - "$MSGRAPH_GRAPH_URL" "$MSGRAPH_CA_PATH" <<'PY'
import json, sys, urllib.request, ssl
url, ca = sys.argv[1], sys.argv[2]
context = ssl.create_default_context(cafile=ca)
with urllib.request.urlopen(url + "/_emulator/requests", context=context) as answer:
    summary = json.load(answer)["summary"]
print("Graph requests over the three runs: %(graph_requests)s round trips, %(writes)s writes, %(token_requests)s token requests"
      % summary)
PY
)"
echo
msg_info "$summary"
echo
msg_info "demo finished"
msg_info "to run the commands above yourself: start the emulator and source its env.sh first, as in the README's \"Use it in your playbooks\":"
echo "    PYTHONPATH=emulator .venv/bin/python -m graph_emulator start --state-dir .tmp/emulator && source .tmp/emulator/env.sh"
