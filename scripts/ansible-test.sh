#!/usr/bin/env bash
# Run ansible-test on a fresh copy of this collection, offline.
#
#   scripts/ansible-test.sh VENV ANSIBLE-TEST-ARGS...
#   e.g. scripts/ansible-test.sh .venv sanity --venv --python 3.12
#        scripts/ansible-test.sh .venv-2.16 integration --local --python 3.11 oauth2_grant
#
# 1. ansible-test wants the collection at …/ansible_collections/msgraph/grants. The working tree (what git would
#    commit: tracked + untracked-not-ignored files) is synced into .tmp/ansible-test-<venv name without dot>/ansible_collections/msgraph/grants,
#    so a stale tests/output, .venv or .tmp of the working tree is never scanned. One copy per venv, so the 2.16 and
#    2.21 legs never share ansible-test's output.
# 2. ansible-test puts pip into each test venv with a get-pip.py it downloads from a host that is not reachable here.
#    It first looks for ~/.ansible/test/cache/get_pip_<version>.py (2.21.5: get_pip_25_2.py, 2.16.19: get_pip_23_1_2.py);
#    we put a stand-in there that uses the interpreter's own ensurepip and then installs the requested pip version
#    from the configured package index.
# 3. An integration config is copied into the copy's tests/integration/ from $MSGRAPH_INTEGRATION_CONFIG, or else from
#    the working tree's (git-ignored) tests/integration/integration_config.yml when there is one.
# Extra environment: ANSIBLE_TEST_SYNC_ONLY=1 only syncs and prints the copy's path.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -ge 1 ] || msg_die "usage: scripts/ansible-test.sh VENV ANSIBLE-TEST-ARGS..."
venv="$1"; shift
case "$venv" in /*) ;; *) venv="$MSG_ROOT/$venv" ;; esac
venv="${venv%/}"
[ -x "$venv/bin/ansible-test" ] || msg_die "$venv/bin/ansible-test not found: run scripts/bootstrap.sh first"
venv_name="$(basename "$venv")"
venv_python="$venv/bin/python"

copy_root="$MSG_ROOT/.tmp/ansible-test-${venv_name#.}"
copy="$copy_root/ansible_collections/msgraph/grants"
msg_sync_collection "$copy"

config_src="${MSGRAPH_INTEGRATION_CONFIG:-}"
if [ -z "$config_src" ] && [ -f "$MSG_ROOT/tests/integration/integration_config.yml" ]; then
    config_src="$MSG_ROOT/tests/integration/integration_config.yml"
fi
rm -f "$copy/tests/integration/integration_config.yml"
if [ -n "$config_src" ]; then
    [ -f "$config_src" ] || msg_die "integration config $config_src not found"
    mkdir -p "$copy/tests/integration"
    cp "$config_src" "$copy/tests/integration/integration_config.yml"
fi

if [ "${ANSIBLE_TEST_SYNC_ONLY:-0}" = 1 ]; then
    echo "$copy"
    exit 0
fi

# The pip version ansible-test bootstraps into its venvs, read from the installed ansible-test itself.
pip_versions="$("$venv_python" - <<'PY'
import pathlib, re
import ansible_test
src = (pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text()
m = re.search(r"def get_venv_packages\(.*?\n(.*?)\n    packages = ", src, re.S)
print(" ".join(sorted(set(re.findall(r"pip='([0-9.]+)'", m.group(1) if m else src)))))
PY
)"
[ -n "$pip_versions" ] || msg_die "could not find the pip version ansible-test bootstraps (ansible_test/_internal/python_requirements.py changed?)"

cache_dir="$HOME/.ansible/test/cache"
mkdir -p "$cache_dir"
marker="msgraph.grants offline get-pip stand-in"
for v in $pip_versions; do
    f="$cache_dir/get_pip_${v//./_}.py"
    if [ -f "$f" ] && ! grep -q "$marker" "$f"; then
        continue    # a real get-pip.py put there by someone: leave it alone
    fi
    cat > "$f.new" <<PY
# $marker (written by scripts/ansible-test.sh).
# ansible-test runs this as: python get_pip_X.py [pip options] pip==X [setuptools==Y wheel==Z] [--no-setuptools] [--no-wheel]
# to put pip into a new, pip-less virtual environment. The real script is downloaded from a host this machine cannot
# reach, so this one uses the interpreter's bundled pip (ensurepip), then installs the requested versions from the
# configured package index.
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
    mv "$f.new" "$f"
done

cd "$copy"
export PATH="$venv/bin:$PATH"
exec "$venv/bin/ansible-test" "$@"
