#!/usr/bin/env bash
# The one test command of msgraph.grants (CI runs it through .ci/run).
#
#   scripts/test.sh                 every stage, in order
#   scripts/test.sh unit sanity     only these stages (any order is run in the canonical order)
#   scripts/test.sh --fast          the quick ones: bootstrap unit emulator sanity lint changelog
#   scripts/test.sh --list          list the stages
#
# Stages: bootstrap unit emulator emulator-package sanity lint changelog build docs awx integration molecule reliability
#         matrix-2.16
# Every selected stage runs even when an earlier one failed; the run fails when any stage failed. A stage whose
# inputs do not exist yet (no integration targets, no molecule scenario, ...) is skipped with a note.
# Pass extra pytest options through PYTEST_ADDOPTS (e.g. PYTEST_ADDOPTS='-k scopes -x' scripts/test.sh unit).
# Everything runs from the venvs that scripts/bootstrap.sh makes; nothing installed by hand is used.
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MSG_ROOT" || exit 1

# CI logs are read as text: no colours or terminal hyperlinks from pytest, ansible, ansible-lint, molecule.
if [ "${CI:-}" = true ]; then
    export NO_COLOR=1 ANSIBLE_NOCOLOR=1 PY_COLORS=0
fi

ALL_STAGES=(bootstrap unit emulator emulator-package sanity lint changelog build docs awx integration molecule reliability matrix-2.16)
FAST_STAGES=(bootstrap unit emulator sanity lint changelog)

VENV="$MSG_ROOT/.venv"
VENV216="$MSG_ROOT/.venv-2.16"
# .tmp/collections/ansible_collections/msgraph/grants -> the working tree, so that
# `import ansible_collections.msgraph.grants...` and FQCNs resolve to the files being edited.
COLLECTIONS="$MSG_ROOT/.tmp/collections"

# ---------------------------------------------------------------------------------------------------------------
# helpers

ensure_collections_link() {
    local link="$COLLECTIONS/ansible_collections/msgraph/grants"
    mkdir -p "$(dirname "$link")"
    if [ "$(readlink "$link" 2>/dev/null)" != "../../../.." ]; then
        rm -rf "$link"
        ln -s ../../../.. "$link"
    fi
}

# skip REASON: end the current stage as skipped (stages run in a subshell; exit code 99 means skipped).
skip() { echo "SKIPPED: $*"; exit 99; }

# run_pytest VENV_DIR TEST_DIR [pytest args...]: pytest's "no tests collected" (exit 5) counts as skipped.
run_pytest() {
    local venv="$1" dir="$2"; shift 2
    [ -d "$dir" ] || skip "$dir does not exist"
    if [ -z "$(find "$dir" -name 'test_*.py' -o -name '*_test.py' | head -n1)" ]; then
        skip "no test files in $dir yet"
    fi
    ensure_collections_link
    local rc=0
    PYTHONPATH="$COLLECTIONS:$MSG_ROOT/emulator${PYTHONPATH:+:$PYTHONPATH}" \
        "$venv/bin/python" -m pytest "$dir" -o cache_dir="$MSG_ROOT/.tmp/pytest-cache/$(basename "$venv")" \
        -p no:randomly "$@" || rc=$?
    [ "$rc" = 5 ] && skip "pytest collected no tests in $dir"
    return "$rc"
}

have_targets() {
    local t
    for t in tests/integration/targets/*/; do
        [ -d "$t" ] || continue
        case "$(basename "$t")" in setup_*|prepare_*) continue ;; esac
        if [ -f "$t/aliases" ] && grep -qE '^(disabled|unsupported)$' "$t/aliases"; then continue; fi
        return 0
    done
    return 1
}

EMULATOR_STATE=""
EMULATOR_VENV=""   # set: run the emulator from this venv's installed msgraph-emulator package, not from emulator/
emulator_cli() {
    if [ -n "$EMULATOR_VENV" ]; then "$EMULATOR_VENV/bin/msgraph-emulator" "$@"
    else PYTHONPATH="$MSG_ROOT/emulator" "$VENV/bin/python" -m graph_emulator "$@"; fi
}
# start_emulator STATE_DIR: start the Graph emulator (from .venv) and write STATE_DIR/integration_config.yml.
start_emulator() {
    EMULATOR_STATE="$1"
    [ -f "$MSG_ROOT/emulator/graph_emulator/__main__.py" ] \
        || { echo "the emulator (emulator/graph_emulator/__main__.py) does not exist yet"; return 1; }
    rm -rf "$EMULATOR_STATE"
    mkdir -p "$EMULATOR_STATE"
    trap stop_emulator EXIT
    emulator_cli start --state-dir "$EMULATOR_STATE" || return 1
    [ -f "$EMULATOR_STATE/emulator.json" ] || { echo "emulator did not write $EMULATOR_STATE/emulator.json"; return 1; }
    "$VENV/bin/python" "$MSG_ROOT/scripts/integration-config.py" "$EMULATOR_STATE/emulator.json" "$EMULATOR_STATE/integration_config.yml"
}
stop_emulator() {
    if [ -n "$EMULATOR_STATE" ] && [ -f "$EMULATOR_STATE/emulator.json" ]; then
        emulator_cli stop --state-dir "$EMULATOR_STATE" \
            || echo "WARNING: could not stop the emulator in $EMULATOR_STATE"
    fi
    EMULATOR_STATE=""
}

module_names() {
    local f
    for f in plugins/modules/*.py; do
        [ -f "$f" ] || continue
        case "$(basename "$f")" in __init__.py) continue ;; esac
        basename "$f" .py
    done
}

BUILD_DIR="$MSG_ROOT/.tmp/build"
# build_and_install VENV: build the collection tarball from the working tree, exactly as a maintainer would
# (so galaxy.yml's build_ignore is what is tested), check that it holds no development or git-ignored files, and
# install it into $BUILD_DIR/collections.
build_and_install() {
    local venv="$1" tarball leaked
    rm -rf "$BUILD_DIR"
    mkdir -p "$BUILD_DIR"
    "$venv/bin/ansible-galaxy" collection build --force --output-path "$BUILD_DIR" "$MSG_ROOT" || return 1
    tarball="$(ls "$BUILD_DIR"/msgraph-grants-*.tar.gz)"
    tar -tzf "$tarball" > "$BUILD_DIR/contents.txt" || return 1
    echo "built $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB, $(wc -l < "$BUILD_DIR/contents.txt") entries)"
    leaked="$(grep -E '^(tests|emulator|scripts|requirements|bench|extensions|\.[^/]+)(/|$)|__pycache__|\.pyc$' \
        "$BUILD_DIR/contents.txt" || true)"
    if command -v git >/dev/null 2>&1 && git -C "$MSG_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
        leaked="$leaked
$(grep -vE '^(MANIFEST|FILES)\.json$' "$BUILD_DIR/contents.txt" | git -C "$MSG_ROOT" check-ignore --stdin || true)"
    fi
    leaked="$(printf '%s\n' "$leaked" | sed '/^$/d')"
    if [ -n "$leaked" ]; then
        echo "the tarball contains development or git-ignored files (add them to build_ignore in galaxy.yml):"
        echo "$leaked" | sort -u | head -n 20
        return 1
    fi
    "$venv/bin/ansible-galaxy" collection install --force --offline -p "$BUILD_DIR/collections" "$tarball" || return 1
}

# ---------------------------------------------------------------------------------------------------------------
# stages

stage_bootstrap() {
    bash scripts/bootstrap.sh --core 2.21
}

stage_unit() {
    msg_require_venv 2.21 || return 1
    run_pytest "$VENV" tests/unit
}

stage_emulator() {
    msg_require_venv 2.21 || return 1
    run_pytest "$VENV" tests/emulator
}

# The emulator as users install it (docs/testing-offline.md): its wheel in a fresh venv, then a user project outside
# the repository (seed file, playbook, pytest fixture, malformed seeds), and the git+file:// install.
stage_emulator_package() {
    msg_require_venv 2.21 || return 1
    ensure_collections_link
    ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS" bash tests/emulator/package/package.sh check
}

# Every sanity test on the controller Python (3.12, the venv's); the per-Python tests (compile, import) also on
# each other module-side Python that pyenv has (3.9-3.14; tests/config.yml: python_requires >=3.9).
stage_sanity() {
    msg_require_venv 2.21 || return 1
    local extra
    extra="$(msg_extra_pythons_path)"
    echo "module-side Pythons for compile/import besides 3.12: ${extra:-none found}"
    PATH="$extra$PATH" bash scripts/ansible-test.sh "$VENV" sanity --venv
}

stage_lint() {
    [ -f .ansible-lint ] || skip "no .ansible-lint"
    msg_require_venv 2.21 || return 1
    # The collection's own modules (used by roles/ and playbooks/) must resolve to this working tree, not to
    # whatever copy happens to be installed in ~/.ansible/collections.
    ensure_collections_link
    PATH="$VENV/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS" "$VENV/bin/ansible-lint" --profile production
}

stage_changelog() {
    [ -f changelogs/config.yaml ] || skip "no changelogs/config.yaml"
    msg_require_venv 2.21 || return 1
    PATH="$VENV/bin:$PATH" "$VENV/bin/antsibull-changelog" lint || return 1
    PATH="$VENV/bin:$PATH" "$VENV/bin/antsibull-changelog" lint-changelog-yaml changelogs/changelog.yaml || return 1
    echo "changelog fragments and changelogs/changelog.yaml are valid"
    # The generated CHANGELOG.md must match changelogs/changelog.yaml (regenerate: antsibull-changelog generate).
    local out tmp
    out="$(sed -n 's/^[[:space:]]*- file:[[:space:]]*//p' changelogs/config.yaml | head -n1)"
    if [ -n "$out" ]; then
        tmp="$MSG_ROOT/.tmp/changelog-check"
        rm -rf "$tmp"; mkdir -p "$tmp"
        cp -R galaxy.yml changelogs "$tmp/"
        (cd "$tmp" && PATH="$VENV/bin:$PATH" "$VENV/bin/antsibull-changelog" generate) || return 1
        if ! diff -u "$out" "$tmp/$out"; then
            echo "$out is out of date: run '.venv/bin/antsibull-changelog generate' and commit the result"
            return 1
        fi
        echo "$out is up to date"
    fi
}

stage_build() {
    [ -f galaxy.yml ] || skip "no galaxy.yml"
    msg_require_venv 2.21 || return 1
    build_and_install "$VENV" || return 1
    [ -f plugins/modules/oauth2_grant.py ] || skip "built and installed; plugins/modules/oauth2_grant.py does not exist yet"
    ANSIBLE_COLLECTIONS_PATH="$BUILD_DIR/collections" "$VENV/bin/ansible-doc" -t module msgraph.grants.oauth2_grant \
        > "$BUILD_DIR/oauth2_grant.txt" || return 1
    echo "ansible-doc msgraph.grants.oauth2_grant from the installed tarball: $(wc -l < "$BUILD_DIR/oauth2_grant.txt") lines"
    # The README is also Galaxy's page and the installed copy's: its links must resolve there (about 1 s).
    "$VENV/bin/python" scripts/check-readme-links.py "$BUILD_DIR"/msgraph-grants-*.tar.gz || return 1
    # Its "Use it in your playbooks" lines, run literally in a clean copy against the emulator (about 10 s).
    bash scripts/readme-usage-test.sh || return 1
}

stage_docs() {
    local modules m rc=0
    modules="$(module_names)"
    [ -n "$modules" ] || skip "no modules in plugins/modules yet"
    msg_require_venv 2.21 || return 1
    build_and_install "$VENV" > "$BUILD_DIR.log" 2>&1 || { cat "$BUILD_DIR.log"; return 1; }
    for m in $modules; do
        if ANSIBLE_COLLECTIONS_PATH="$BUILD_DIR/collections" "$VENV/bin/ansible-doc" -t module "msgraph.grants.$m" \
                > "$BUILD_DIR/$m.txt" 2> "$BUILD_DIR/$m.err" && [ ! -s "$BUILD_DIR/$m.err" ]; then
            echo "ansible-doc msgraph.grants.$m: OK ($(wc -l < "$BUILD_DIR/$m.txt") lines)"
        else
            echo "ansible-doc msgraph.grants.$m: FAILED"; cat "$BUILD_DIR/$m.err"; rc=1
        fi
    done
    local copy
    copy="$(ANSIBLE_TEST_SYNC_ONLY=1 bash scripts/ansible-test.sh "$VENV" | tail -n1)"
    (cd "$copy" && PATH="$VENV/bin:$PATH" "$VENV/bin/antsibull-docs" lint-collection-docs --plugin-docs .) || rc=1
    return "$rc"
}

# AWX / AAP: EE definition (ansible-builder create + introspection of the built tarball) and ansible-runner jobs with
# the environment AWX credentials inject, against the Graph emulator.
stage_awx() {
    msg_require_venv 2.21 || return 1
    run_pytest "$VENV" tests/awx
}

# Faults, races, bad input and secret hygiene: the fast subset (scripts/reliability.sh runs the full suite).
stage_reliability() {
    msg_require_venv 2.21 || return 1
    run_pytest "$VENV" tests/reliability
}

stage_integration() {
    have_targets || skip "no integration targets in tests/integration/targets yet"
    msg_require_venv 2.21 || return 1
    # The emulator from its installed wheel (.tmp/emulator-package/venv), so the package is what we test with.
    EMULATOR_VENV="$(bash tests/emulator/package/package.sh venv)" || return 1
    start_emulator "$MSG_ROOT/.tmp/emulator" || return 1
    MSGRAPH_INTEGRATION_CONFIG="$EMULATOR_STATE/integration_config.yml" \
        bash scripts/ansible-test.sh "$VENV" integration --local --python 3.12
}

stage_molecule() {
    compgen -G "extensions/molecule/*/molecule.yml" > /dev/null || skip "no scenario in extensions/molecule yet"
    msg_require_venv 2.21 || return 1
    ensure_collections_link
    start_emulator "$MSG_ROOT/.tmp/molecule-emulator" || return 1
    # shellcheck disable=SC1091
    source "$EMULATOR_STATE/env.sh"
    PATH="$VENV/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS" "$VENV/bin/molecule" test --all
}

# The oldest supported leg: ansible-core 2.16 on Python 3.11 (bootstrap, unit tests, a sanity subset, integration).
stage_matrix_2_16() {
    local rc=0
    bash scripts/bootstrap.sh --core 2.16 || return 1
    msg_require_venv 2.21 || return 1     # the emulator runs from .venv
    step() { echo; echo "---- matrix-2.16: $1"; }

    step "unit (pytest tests/unit on ansible-core 2.16, Python 3.11)"
    ( run_pytest "$VENV216" tests/unit ); case $? in 0|99) ;; *) rc=1 ;; esac

    step "sanity subset (ansible-test 2.16)"
    bash scripts/ansible-test.sh "$VENV216" sanity --venv --python 3.11 \
        --test ansible-doc --test compile --test import --test runtime-metadata --test validate-modules \
        --test yamllint || rc=1

    step "integration (ansible-test 2.16 --local, Python 3.11)"
    if have_targets; then
        if start_emulator "$MSG_ROOT/.tmp/emulator-2.16"; then
            MSGRAPH_INTEGRATION_CONFIG="$EMULATOR_STATE/integration_config.yml" \
                bash scripts/ansible-test.sh "$VENV216" integration --local --python 3.11 || rc=1
            stop_emulator
        else
            rc=1
        fi
    else
        echo "skipped: no integration targets yet"
    fi
    return "$rc"
}

# ---------------------------------------------------------------------------------------------------------------
# main

selected=()
for arg in "$@"; do
    case "$arg" in
        --fast) selected+=("${FAST_STAGES[@]}") ;;
        --all) selected+=("${ALL_STAGES[@]}") ;;
        --list) printf '%s\n' "${ALL_STAGES[@]}"; exit 0 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        -*) msg_die "unknown option $arg (try --help)" ;;
        *)
            known=0
            for s in "${ALL_STAGES[@]}"; do [ "$s" = "$arg" ] && known=1; done
            [ "$known" = 1 ] || msg_die "unknown stage '$arg' (stages: ${ALL_STAGES[*]})"
            selected+=("$arg")
            ;;
    esac
done
[ ${#selected[@]} -gt 0 ] || selected=("${ALL_STAGES[@]}")

# canonical order, no duplicates
stages=()
for s in "${ALL_STAGES[@]}"; do
    for w in "${selected[@]}"; do
        if [ "$s" = "$w" ]; then stages+=("$s"); break; fi
    done
done

echo "msgraph.grants tests: ${stages[*]}"
echo "host: $(uname -sm), $(nproc 2>/dev/null || echo '?') cores, CI=${CI:-}"

results=(); times=(); notes=()
passed=0; failed=0; skipped=0
run_start="$(msg_now)"
for s in "${stages[@]}"; do
    echo
    echo "================================================================================"
    echo "== stage: $s"
    echo "================================================================================"
    start="$(msg_now)"
    out="$MSG_ROOT/.tmp/stage-$s.note"
    mkdir -p "$MSG_ROOT/.tmp"; rm -f "$out"
    fn="stage_${s//[-.]/_}"
    ( set -o pipefail; "$fn" ) 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    secs="$(msg_elapsed "$start")"
    note=""
    case "$rc" in
        0) result="passed"; passed=$((passed + 1)) ;;
        99) result="skipped"; skipped=$((skipped + 1)); note="$(grep -m1 '^SKIPPED: ' "$out" | sed 's/^SKIPPED: //')" ;;
        *) result="FAILED"; failed=$((failed + 1)); note="exit code $rc" ;;
    esac
    rm -f "$out"
    echo "== stage $s: $result in ${secs} s${note:+ ($note)}"
    results+=("$result"); times+=("$secs"); notes+=("$note")
done

echo
echo "================================================================================"
echo "== summary (total $(msg_elapsed "$run_start") s)"
echo "================================================================================"
printf '%-14s %-8s %9s  %s\n' "stage" "result" "seconds" "note"
for i in "${!stages[@]}"; do
    printf '%-14s %-8s %9s  %s\n' "${stages[$i]}" "${results[$i]}" "${times[$i]}" "${notes[$i]}"
done
echo
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
