"""A local Microsoft Graph emulator for the msgraph.grants collection's tests.

One HTTPS process on 127.0.0.1 serves the Entra ID token endpoint (client secret, certificate and federated
assertions, App Service managed identity), the Graph ``/v1.0`` and ``/beta`` surface for delegated permission
grants, and a control plane under ``/_emulator`` (reset, seed, state, request log, fault knobs).

Behaviour follows ``shared/graph/graph-semantics.md``; see ``docs/dev/emulator.md``.
"""

__version__ = "0.1.0"

INFO_FILE = "emulator.json"  # connection details written by `serve` into the state directory
ENV_FILE = "env.sh"  # exports the connection settings and defines DEACTIVATE_FUNCTION
UNSET_FILE = "unset.sh"  # sourced, unsets what env.sh exports
DEACTIVATE_FUNCTION = "msgraph_emulator_deactivate"
