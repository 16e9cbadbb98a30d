#!/usr/bin/env bash
# Real ad-hoc commands (`ansible localhost -m msgraph.grants.oauth2_grant ...`) against the Graph emulator, with the
# connection given only by environment variables, AAP's Azure credential names included (AZURE_TENANT, AZURE_SECRET).
# Each write runs twice: changed, then ok with zero writes in the emulator's request log. Output is checked with
# Python one-liners (no jq).
set -eu -o pipefail

here="$(cd "$(dirname "$0")" && pwd)"
config="${MSGRAPH_INTEGRATION_CONFIG:-$here/../../integration_config.yml}"
[ -f "$config" ] || { echo "integration config $config not found (scripts/test.sh integration writes it)" >&2; exit 1; }
PY="${ANSIBLE_TEST_PYTHON_INTERPRETER:-$(command -v python3 || command -v python)}"
work="${OUTPUT_DIR:-$(mktemp -d)}/adhoc"
rm -rf "$work"
mkdir -p "$work"

# The connection, from the integration config, as the environment an AWX/AAP job gets.
eval "$("$PY" - "$config" <<'PY'
import shlex, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
env = {
    "AZURE_TENANT": c["tenant_id"],           # AAP's name (AZURE_TENANT_ID is the other one the modules read)
    "AZURE_CLIENT_ID": c["client_id"],
    "AZURE_SECRET": c["client_secret"],       # AAP's name (AZURE_CLIENT_SECRET is the other one)
    "MSGRAPH_GRAPH_URL": c["graph_url"],
    "AZURE_AUTHORITY_HOST": c["authority_url"],
    "MSGRAPH_CA_PATH": c["ca_path"],
    "ADHOC_EMULATOR_URL": c.get("emulator_url") or c["graph_url"],
}
for name, value in env.items():
    print("export %s=%s" % (name, shlex.quote(str(value))))
PY
)"
unset AZURE_TENANT_ID AZURE_CLIENT_SECRET MSGRAPH_ACCESS_TOKEN MSGRAPH_AUTH_METHOD MSGRAPH_API_VERSION
export MSGRAPH_TOKEN_CACHE="$work/token-cache"
export ANSIBLE_STDOUT_CALLBACK=default ANSIBLE_CALLBACK_RESULT_FORMAT=json ANSIBLE_NOCOLOR=1
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false

# emulator METHOD PATH [JSON]: one call to the emulator's control plane; prints the JSON answer.
emulator() {
    "$PY" - "$@" <<'PY'
import json, ssl, sys, urllib.request
import os
method, path = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode() if len(sys.argv) > 3 else None
req = urllib.request.Request(os.environ["ADHOC_EMULATOR_URL"] + "/_emulator/" + path, data=data, method=method,
                             headers={"Content-Type": "application/json"})
ctx = ssl.create_default_context(cafile=os.environ["MSGRAPH_CA_PATH"])
print(urllib.request.urlopen(req, context=ctx, timeout=30).read().decode())
PY
}

# adhoc NAME STATUS ansible-args...: run `ansible localhost ...`, check the status word Ansible prints (SUCCESS,
# CHANGED or FAILED!), keep the result as $work/NAME.json and the requests Graph got as $work/NAME.log.json.
adhoc() {
    local name="$1" want="$2" rc=0 mark
    shift 2
    mark="$(emulator GET 'requests' | "$PY" -c 'import json,sys; print(max([0] + [e["seq"] for e in json.load(sys.stdin)["requests"]]))')"
    echo "== $name: ansible localhost $*"
    ansible localhost -c local "$@" > "$work/$name.out" 2> "$work/$name.err" || rc=$?
    cat "$work/$name.out"
    emulator GET "requests?since=$mark" > "$work/$name.log.json"
    "$PY" - "$work/$name.out" "$work/$name.json" "$want" "$rc" <<'PY'
import json, re, sys
out, dest, want, rc = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3], int(sys.argv[4])
m = re.search(r"^localhost \| (SUCCESS|CHANGED|FAILED!) => (\{.*)", out, re.M | re.S)
assert m, "no result line in the output"
assert m.group(1) == want, "expected %s, got %s" % (want, m.group(1))
assert (rc != 0) == (want == "FAILED!"), "exit code %d for %s" % (rc, want)
json.dump(json.loads(m.group(2)), open(dest, "w"))
PY
}

# check NAME PYTHON-EXPRESSION: assert on r (the result of run NAME) and log (its request log window).
check() {
    "$PY" - "$work/$1.json" "$work/$1.log.json" "$2" <<'PY'
import json, sys
r, log, expr = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
assert eval(expr), "failed: %s\n  result: %s\n  writes: %s" % (
    expr, json.dumps(r)[:2000], [(e["method"], e["path"], e["status"]) for e in log["requests"] if e["write"]])
print("ok: " + expr)
PY
}

emulator POST reset > /dev/null

grant=(-m msgraph.grants.oauth2_grant -a 'client="Contoso Payroll" resource="Contoso Orders API" scopes=Orders.Read,Orders.ReadWrite')

# check mode with diff: a prediction, no write
adhoc create_check CHANGED "${grant[@]}" --check --diff
check create_check 'r["action"] == "created" and r["grant"]["id"] is None and log["summary"]["writes"] == 0'
check create_check 'r["scopes_added"] == ["Orders.Read", "Orders.ReadWrite"] and r["scopes_removed"] == []'

# for real: created, exactly one write
adhoc create CHANGED "${grant[@]}" --diff
check create 'r["action"] == "created" and r["grant"]["scopes"] == ["Orders.Read", "Orders.ReadWrite"]'
check create 'r["grant"]["client_id"] == "6e2f81a7-3c9d-4a1f-8b6c-7d8e9fa0b1c2" and r["grant"]["consent_type"] == "AllPrincipals"'
check create '[e["method"] for e in log["requests"] if e["write"]] == ["POST"]'

# again: ok, zero writes, and the token the first run cached (MSGRAPH_TOKEN_CACHE)
adhoc create_again SUCCESS "${grant[@]}"
check create_again 'r["action"] == "unchanged" and not r["changed"] and log["summary"]["writes"] == 0'
check create_again 'log["summary"]["token_requests"] == 0'

# info with names resolved: the new grant and the seeded guest grant of Contoso Payroll
adhoc info SUCCESS -m msgraph.grants.oauth2_grant_info -a 'client="Contoso Payroll" resolve_names=true'
check info 'len(r["grants"]) == 2 and not r["changed"] and log["summary"]["writes"] == 0'
check info '[g["resource_display_name"] for g in r["grants"]] == ["Microsoft Graph", "Contoso Orders API"]'
check info '[g["principal_user_principal_name"] for g in r["grants"]] == ["adele.vance_fabrikam.com#EXT#@contoso.onmicrosoft.com", None]'

# delete, with the arguments given as JSON (a display name with an apostrophe is no quoting trouble then)
absent=(-m msgraph.grants.oauth2_grant -a '{"client": "Contoso Payroll", "resource": "Contoso Orders API", "state": "absent"}')
adhoc delete CHANGED "${absent[@]}"
check delete 'r["action"] == "deleted" and "grant" not in r and r["scopes_removed"] == ["Orders.Read", "Orders.ReadWrite"]'
check delete '[e["method"] for e in log["requests"] if e["write"]] == ["DELETE"]'
check delete 'r["deleted_grant"]["scopes"] == ["Orders.Read", "Orders.ReadWrite"] and r["deleted_grant"]["id"]'
adhoc delete_again SUCCESS "${absent[@]}"
check delete_again 'r["action"] == "unchanged" and log["summary"]["writes"] == 0'

# a failure: the message says what is wrong, no traceback, nothing written
adhoc ambiguous FAILED! -m msgraph.grants.oauth2_grant -a '{"client": "Contoso Reporting", "resource": "O'"'"'Brien Tools", "scopes": ["User.Read"]}'
check ambiguous '"ambiguous" in r["msg"] and "8a41a3c9-5e1f-4c3b-8d8e-9fa0b1c2d3e4" in r["msg"] and "9b52b4d0-6f2a-4d4c-9e9f-a0b1c2d3e4f5" in r["msg"]'
check ambiguous '"Traceback" not in r["msg"] and log["summary"]["writes"] == 0'
grep -q Traceback "$work/ambiguous.out" "$work/ambiguous.err" && { echo "a traceback was printed"; exit 1; }

# validate_certs false: works, and warns that TLS verification is off
adhoc insecure SUCCESS -m msgraph.grants.oauth2_grant_info -a 'client="Contoso Payroll" validate_certs=false'
grep -q "validate_certs is false: TLS certificate verification is off" "$work/insecure.err" "$work/insecure.out" \
    || { echo "no TLS warning for validate_certs=false"; exit 1; }

# Graph unreachable (a stale MSGRAPH_GRAPH_URL: nothing listens there) with a token at hand (a pre-acquired one: no
# token request): fails fast, says why and what to do, and lists its retries. tests/reliability runs the same with a
# token cached by an earlier run against an emulator that is then stopped.
closed_port="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
token="$("$PY" -c 'import base64, json; b = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("="); print(b({"alg": "none", "typ": "JWT"}) + "." + b({"aud": "graph"}) + ".")')"
started="$("$PY" -c 'import time; print(time.time())')"
MSGRAPH_GRAPH_URL="https://127.0.0.1:$closed_port" MSGRAPH_ACCESS_TOKEN="$token" adhoc unreachable FAILED! "${grant[@]}"
elapsed="$("$PY" -c "import time; print(round(time.time() - $started, 1))")"
echo "unreachable Graph: the task failed after $elapsed s"
"$PY" -c "import sys; sys.exit(0 if $elapsed < 15 else 1)" || { echo "took $elapsed s (>= 15 s)"; exit 1; }
check unreachable 'log["summary"]["token_requests"] == 0'
check unreachable '"cannot connect to Microsoft Graph at https://127.0.0.1:" in r["msg"] and "connection refused" in r["msg"]'
check unreachable '"unset MSGRAPH_GRAPH_URL" in r["msg"] and "retry budget" not in r["msg"]'
check unreachable '[e["why"] for e in r["retries"]] == ["connection refused", "connection refused"]'
grep -q "this run retried 2 times" "$work/unreachable.err" "$work/unreachable.out" || { echo "no retry warning"; exit 1; }

echo "adhoc_commands: all checks passed"
