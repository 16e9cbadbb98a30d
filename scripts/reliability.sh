#!/usr/bin/env bash
# The reliability and security suite of msgraph.grants (docs/reliability.md): fault injection, concurrency, bad
# input, secret hygiene and the throttling budget, against the local Graph emulator (nothing leaves 127.0.0.1).
#
#   scripts/reliability.sh                   the full run: >= 100 fault runs, >= 50 concurrency trials (~10 min)
#   scripts/reliability.sh --fast            the fast subset (what CI runs; ~3-5 min on 2 cores)
#   MSGRAPH_RELIABILITY_SEED=7 scripts/reliability.sh      another seed (default 20251123)
#   scripts/reliability.sh -k concurrency    extra arguments go to pytest
#
# Other knobs: MSGRAPH_RELIABILITY_FAULT_RUNS, MSGRAPH_RELIABILITY_TRIALS, MSGRAPH_RELIABILITY_WORKERS.
# The figures table is printed at the end and written to tests/reliability/results/{latest,full|fast}.md.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MSG_ROOT" || exit 1

full=1
if [ "${1:-}" = "--fast" ]; then
    full=0
    shift
fi
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit 0
fi

msg_require_venv 2.21 >/dev/null || msg_die "could not prepare .venv (scripts/bootstrap.sh)"

# .tmp/collections/ansible_collections/msgraph/grants -> the working tree (as scripts/test.sh makes it)
link="$MSG_ROOT/.tmp/collections/ansible_collections/msgraph/grants"
mkdir -p "$(dirname "$link")"
if [ "$(readlink "$link" 2>/dev/null)" != "../../../.." ]; then
    rm -rf "$link"
    ln -s ../../../.. "$link"
fi

export MSGRAPH_RELIABILITY_FULL="$full"
echo "msgraph.grants reliability suite: $([ "$full" = 1 ] && echo full || echo fast) run," \
     "seed ${MSGRAPH_RELIABILITY_SEED:-20251123}, $(nproc 2>/dev/null || echo '?') cores"
PYTHONPATH="$MSG_ROOT/.tmp/collections:$MSG_ROOT/emulator${PYTHONPATH:+:$PYTHONPATH}" \
    "$MSG_ROOT/.venv/bin/python" -m pytest tests/reliability -p no:randomly -o cache_dir="$MSG_ROOT/.tmp/pytest-cache/reliability" \
    -rxXf "$@"
