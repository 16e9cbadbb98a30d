# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Execution environments: what ansible-builder makes of the collection's meta/execution-environment.yml.

No image is built (no container registry here); what is checked is everything ansible-builder decides before the
container build: the definition is valid v3, ``ansible-builder create`` puts the collection's requirements into
the build context, and the EE build's own steps - ``ansible-galaxy collection install -r requirements.yml`` in the
galaxy stage, then ``introspect.py introspect`` over the installed collections in the builder stage - find msal,
requests and cryptography in the installed tarball.
"""

import shutil

import pytest
import yaml
from ansible_builder.ee_schema import validate_schema
from packaging.requirements import Requirement

from helpers import REPO_ROOT, clean_env, run_checked, venv_tool

META = REPO_ROOT / "meta"
SAMPLE_EE = REPO_ROOT / "docs" / "awx" / "execution-environment.yml"
EXPECTED_PYTHON = {"msal", "requests", "cryptography"}


def requirement_names(text):
    names = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(Requirement(line).name.lower())
    return names


def bindep_lines(text):
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def load(path):
    with open(str(path)) as f:
        return yaml.safe_load(f)


def test_collection_ee_definition_is_v3_with_relative_files():
    definition = load(META / "execution-environment.yml")
    assert definition["version"] == 3
    validate_schema(definition)
    deps = definition["dependencies"]
    # ansible-builder's introspection resolves a collection's files relative to the collection root and refuses
    # absolute paths; inline lists are not supported there.
    assert deps["python"] == "meta/ee-requirements.txt"
    assert deps["system"] == "meta/ee-bindep.txt"
    assert requirement_names((REPO_ROOT / deps["python"]).read_text()) == EXPECTED_PYTHON
    # bindep syntax: every non-comment line is "package [profiles]"; today there is none.
    for line in bindep_lines((REPO_ROOT / deps["system"]).read_text()):
        assert len(line.split()) >= 1 and "[" not in line.split()[0], line


def test_builder_create_from_collection_definition(tmp_path):
    """``ansible-builder create`` on meta/execution-environment.yml, placed at the root of a copy of the collection
    (ansible-builder resolves a definition's files relative to the definition's folder, introspection relative to
    the collection root: the same paths then work for both)."""
    root = tmp_path / "collection"
    shutil.copytree(str(META), str(root / "meta"))
    shutil.copy(str(META / "execution-environment.yml"), str(root / "execution-environment.yml"))
    context = tmp_path / "context"
    run_checked([venv_tool("ansible-builder"), "create", "-f", root / "execution-environment.yml", "-c", context,
                 "--output-filename", "Containerfile"])
    assert (context / "Containerfile").is_file()
    assert requirement_names((context / "_build" / "requirements.txt").read_text()) == EXPECTED_PYTHON
    assert (context / "_build" / "bindep.txt").read_text() == (META / "ee-bindep.txt").read_text()


def test_sample_ee_definition_installs_the_collection(tmp_path):
    sample = load(SAMPLE_EE)
    assert sample["version"] == 3
    validate_schema(sample)
    names = [c["name"] for c in sample["dependencies"]["galaxy"]["collections"]]
    assert names == ["msgraph.grants"]
    context = tmp_path / "context"
    run_checked([venv_tool("ansible-builder"), "create", "-f", SAMPLE_EE, "-c", context,
                 "--output-filename", "Containerfile"])
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile
    assert "introspect" in containerfile
    assert load(context / "_build" / "requirements.yml")["collections"][0]["name"] == "msgraph.grants"


def test_sample_ee_with_tarball_gets_collection_requirements(tmp_path, built_collection):
    """The sample's tarball variant, then the EE build's galaxy and builder steps run here, against the tarball."""
    definition_dir = tmp_path / "ee"
    definition_dir.mkdir()
    shutil.copy(str(built_collection.tarball), str(definition_dir / built_collection.tarball.name))
    sample = load(SAMPLE_EE)
    sample["additional_build_files"] = [{"src": built_collection.tarball.name, "dest": "collections"}]
    sample["dependencies"]["galaxy"] = {
        "collections": [{"name": "collections/%s" % built_collection.tarball.name, "type": "file"}]}
    (definition_dir / "execution-environment.yml").write_text(yaml.safe_dump(sample))
    context = tmp_path / "context"
    run_checked([venv_tool("ansible-builder"), "create", "-f", definition_dir / "execution-environment.yml",
                 "-c", context, "--output-filename", "Containerfile"])
    build = context / "_build"
    assert (build / "collections" / built_collection.tarball.name).is_file()

    # Galaxy stage: WORKDIR /build; ansible-galaxy collection install -r requirements.yml --collections-path ...
    installed = tmp_path / "usr_share_ansible_collections"
    run_checked([venv_tool("ansible-galaxy"), "collection", "install", "--offline", "-r", "requirements.yml",
                 "--collections-path", installed], cwd=str(build), env=clean_env(installed))
    assert (installed / "ansible_collections" / "msgraph" / "grants" / "meta" / "execution-environment.yml").is_file()

    # Builder stage: introspect.py introspect --write-bindep=... --write-pip=... over the installed collections.
    pip_out = tmp_path / "requirements.txt"
    bindep_out = tmp_path / "bindep.txt"
    output = run_checked([venv_tool("python"), build / "scripts" / "introspect.py", "introspect",
                          "--write-pip", pip_out, "--write-bindep", bindep_out, installed])
    data = yaml.safe_load(output.split("---", 1)[1])
    python_deps = data["python"]
    assert requirement_names("\n".join(python_deps)) == EXPECTED_PYTHON, python_deps
    assert all("# from collection msgraph.grants" in line for line in python_deps), python_deps
    assert requirement_names(pip_out.read_text()) == EXPECTED_PYTHON
    # No system packages: nothing for bindep to install, and no bindep file is written.
    assert data["system"] == []
    assert not bindep_out.exists()


@pytest.mark.parametrize("path", ["meta/execution-environment.yml", "docs/awx/execution-environment.yml"])
def test_ee_definitions_hold_no_credentials(path):
    text = (REPO_ROOT / path).read_text()
    for word in ("password", "token:", "secret"):
        assert word not in text.lower(), word
