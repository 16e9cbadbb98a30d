"""Module start-up of the benchmark (bench/run.py, scenario ``startup``): ``python -c 'import <module>'`` of our modules
and of ansible's ``uri``, and the cumulative import time of the heaviest packages."""

import os
import statistics
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
COLLECTIONS = os.path.join(ROOT, ".tmp", "collections")


def startup_times(repeat=9):
    """Min and median seconds of ``python -c '<import>'`` (a fresh process each time, bytecode caches warm).

    The "blocked" rows import oauth2_grant with cryptography (and msal) made unimportable, which the modules
    tolerate (they report the missing library only when the chosen auth method needs it): what lazy imports of
    those libraries would save on every module start."""
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    ours = "ansible_collections.msgraph.grants.plugins.modules."
    block = "import sys; sys.modules.update(dict.fromkeys({0!r}));"
    targets = [
        ("python -c pass", "pass"),
        ("import ansible.module_utils.basic", "import ansible.module_utils.basic"),
        ("import ansible.modules.uri", "import ansible.modules.uri"),
        ("import oauth2_grant", "import " + ours + "oauth2_grant"),
        ("import oauth2_grants", "import " + ours + "oauth2_grants"),
        ("import oauth2_grant_info", "import " + ours + "oauth2_grant_info"),
        ("import oauth2_grant, cryptography blocked",
         block.format(["cryptography"]) + "import " + ours + "oauth2_grant"),
        ("import oauth2_grant, cryptography and msal blocked",
         block.format(["cryptography", "msal", "msal.throttled_http_client"]) + "import " + ours + "oauth2_grant"),
    ]
    samples = dict((label, []) for label, _code in targets)
    for label, code in targets:
        subprocess.run([PYTHON, "-c", code], env=env, check=True)  # warm the bytecode cache
    for _round in range(repeat):  # round-robin, so that a change of machine load hits every row alike
        for label, code in targets:
            start = time.monotonic()
            subprocess.run([PYTHON, "-c", code], env=env, check=True)
            samples[label].append(time.monotonic() - start)
    rows = [{"label": label, "min_s": round(min(samples[label]), 3), "median_s": round(statistics.median(samples[label]), 3)}
            for label, _code in targets]
    # Who pays: cumulative import time of the heaviest third-party packages under oauth2_grant.
    proc = subprocess.run([PYTHON, "-X", "importtime", "-c",
                           "import ansible_collections.msgraph.grants.plugins.modules.oauth2_grant"],
                          env=env, check=True, capture_output=True, text=True)
    cumulative = {}
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].strip()
        cumulative[name] = int(parts[1].strip())
    heavy = ["requests", "msal", "cryptography.x509", "cryptography.hazmat.primitives.serialization.pkcs12",
             "ansible.module_utils.basic",
             "ansible_collections.msgraph.grants.plugins.module_utils._auth_methods",
             "ansible_collections.msgraph.grants.plugins.module_utils._graph_client",
             "ansible_collections.msgraph.grants.plugins.module_utils._grant_service"]
    imports = [{"module": name, "cumulative_ms": round(cumulative[name] / 1000.0, 1)} for name in heavy if name in cumulative]
    return rows, imports
