"""A local Microsoft Graph emulator for the msgraph.grants collection's tests.

One HTTPS process on 127.0.0.1 serves the Entra ID token endpoint (client secret, certificate and federated
assertions, App Service managed identity), the Graph ``/v1.0`` and ``/beta`` surface for delegated permission
grants, and a control plane under ``/_emulator`` (reset, seed, state, request log, fault knobs).

Users: docs/testing-offline.md (the ``msgraph-emulator`` command, seed files, the pytest fixture). Behaviour and
sources: docs/dev/emulator.md.
"""

import os

__version__ = "0.1.0"

INFO_FILE = "emulator.json"  # connection details written by `serve` into the state directory
ENV_FILE = "env.sh"  # exports the connection settings and defines DEACTIVATE_FUNCTION
UNSET_FILE = "unset.sh"  # sourced, unsets what env.sh exports
DEACTIVATE_FUNCTION = "msgraph_emulator_deactivate"


def connection_env(info: dict) -> dict:
    """The variables env.sh exports: they point the collection (and MSAL) at the emulator described by ``info``."""
    return {
        "MSGRAPH_GRAPH_URL": info["url"],
        "AZURE_AUTHORITY_HOST": info["url"],
        "MSGRAPH_CA_PATH": info["ca_path"],
        "AZURE_TENANT_ID": info["tenant_id"],
        "AZURE_CLIENT_ID": info["client_id"] or "",
        "AZURE_CLIENT_SECRET": info["client_secret"] or "",
        # Tokens of the emulator stay in its state dir, not in the user's cache (~/.cache/msgraph.grants).
        "MSGRAPH_TOKEN_CACHE": os.path.join(info["state_dir"], "token-cache"),
    }
