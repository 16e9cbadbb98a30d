# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Connection and authentication options shared by every module of the collection.
    DOCUMENTATION = r'''
options:
  tenant_id:
    description:
      - Directory (tenant) ID or a verified domain of the tenant, for example C(contoso.onmicrosoft.com).
      - Needed by every authentication method except O(auth_method=managed_identity) and O(auth_method=access_token).
      - If not set, the environment variable E(AZURE_TENANT_ID) is used, then E(AZURE_TENANT) (the name the
        Ansible Automation Platform / AWX Microsoft Azure Resource Manager credential injects).
    type: str
  client_id:
    description:
      - Application (client) ID of the app registration that authenticates (not the app being granted permissions).
      - With O(auth_method=managed_identity), selects a user-assigned managed identity; leave it unset for the
        system-assigned identity.
      - If not set, the environment variable E(AZURE_CLIENT_ID) is used.
    type: str
  client_secret:
    description:
      - Client secret of the application (its Value, not its Secret ID).
      - If not set, the environment variable E(AZURE_CLIENT_SECRET) is used, then E(AZURE_SECRET) (AAP / AWX).
    type: str
  client_certificate_path:
    description:
      - Path to the application's certificate on the controller. Either a PEM file holding the certificate B(and)
        its RSA private key (in any order, the key optionally encrypted), or a PFX (PKCS#12) file.
      - The certificate (its public part) must be registered on the application.
      - If not set, the environment variable E(AZURE_CLIENT_CERTIFICATE_PATH) is used.
    type: path
  client_certificate_password:
    description:
      - Password of an encrypted PEM private key or of a PFX file.
      - If not set, the environment variable E(AZURE_CLIENT_CERTIFICATE_PASSWORD) is used.
    type: str
  federated_token_file:
    description:
      - Path to a file holding a federated token (workload identity federation, for example a Kubernetes projected
        service account token or a CI job's OIDC token). It is re-read whenever a new Entra token is needed.
      - The application needs a federated identity credential matching the token's issuer, subject and audience.
      - If not set, the environment variable E(AZURE_FEDERATED_TOKEN_FILE) is used.
    type: path
  access_token:
    description:
      - A Microsoft Graph access token acquired elsewhere. No token request is made; it is used as is and cannot be
        refreshed, so it must be valid for the whole task.
      - If not set, the environment variable E(MSGRAPH_ACCESS_TOKEN) is used.
    type: str
  auth_method:
    description:
      - How to authenticate.
      - V(auto) picks the first of these whose input is set, in this order; V(access_token) (O(access_token)),
        V(certificate) (O(client_certificate_path)), V(client_secret) (O(client_secret)), V(federated)
        (O(federated_token_file)), and finally V(managed_identity).
      - A method chosen explicitly or by V(auto) fails with a message naming each missing option and its
        environment variables, for example a client secret without O(tenant_id).
      - V(managed_identity) uses the identity endpoint of the Azure host (App Service, Functions, Azure Arc, or the
        VM instance metadata service), found through the environment as the Azure SDKs do
        (E(IDENTITY_ENDPOINT) and E(IDENTITY_HEADER), E(MSI_ENDPOINT), ...).
      - If not set, the environment variable E(MSGRAPH_AUTH_METHOD) is used.
    type: str
    default: auto
    choices: [auto, client_secret, certificate, federated, managed_identity, access_token]
  cloud:
    description:
      - The Microsoft cloud. V(global) is Microsoft Graph at C(https://graph.microsoft.com) with
        C(https://login.microsoftonline.com) (also used by Microsoft 365 GCC);
        V(usgov) is US Government L4 (GCC High) at C(https://graph.microsoft.us) with
        C(https://login.microsoftonline.us); V(usgov_dod) is US Government L5 (DoD) at
        C(https://dod-graph.microsoft.us) with C(https://login.microsoftonline.us); V(china) is the cloud operated by
        21Vianet at C(https://microsoftgraph.chinacloudapi.cn) with C(https://login.chinacloudapi.cn).
      - The token is requested for the scope C({Graph root}/.default) of that cloud (or of O(graph_url)).
      - If not set, the environment variable E(MSGRAPH_CLOUD) is used, then E(AZURE_CLOUD_ENVIRONMENT) as AAP's
        Azure Resource Manager credential sets it (V(AzureCloud) or V(AzurePublicCloud) mean V(global),
        V(AzureUSGovernment) V(usgov), V(AzureChinaCloud) V(china); case does not matter). V(usgov_dod) has no
        such name, so set it with O(cloud) or E(MSGRAPH_CLOUD).
    type: str
    default: global
    choices: [global, usgov, usgov_dod, china]
  graph_url:
    description:
      - Override the Microsoft Graph root (without the API version), for example C(https://127.0.0.1:8443) for a
        local emulator. The scheme is optional (https is assumed). It also changes the token scope to
        C({graph_url}/.default).
      - If not set, the environment variable E(MSGRAPH_GRAPH_URL) is used; otherwise the root of O(cloud).
    type: str
  authority_url:
    description:
      - Override the login host (authority), for example C(https://127.0.0.1:8443). The scheme is optional (https
        is assumed); the tenant is appended. When set, nothing but this host is contacted for tokens (no instance
        discovery, no regional endpoint).
      - If not set, the environment variable E(AZURE_AUTHORITY_HOST) is used; otherwise the login host of O(cloud).
    type: str
  api_version:
    description:
      - Microsoft Graph API version used for every call.
      - If not set, the environment variable E(MSGRAPH_API_VERSION) is used.
    type: str
    default: v1.0
    choices: [v1.0, beta]
  validate_certs:
    description:
      - Whether TLS certificates of Microsoft Graph and of the login host are verified. Only disable this for tests;
        the module warns when it is V(false), since any server could then pose as Graph and receive the token.
      - If not set, the environment variable E(MSGRAPH_VALIDATE_CERTS) is used.
    type: bool
    default: true
  ca_path:
    description:
      - CA bundle (PEM) used to verify TLS certificates of Microsoft Graph and of the login host, for example the CA
        of a local emulator or of a TLS-inspecting proxy.
      - It replaces the default trust store (the system's or certifi's CAs) rather than adding to it, so only the
        CAs in this file are trusted. To trust a proxy's CA and the public CAs, put them all in one file.
      - It takes precedence over machine-wide settings such as E(REQUESTS_CA_BUNDLE) and E(CURL_CA_BUNDLE), for
        Graph calls and token requests alike.
      - If not set, the environment variable E(MSGRAPH_CA_PATH) is used; otherwise the system/certifi CA bundle.
    type: path
  timeout:
    description:
      - Timeout in seconds of each HTTP request (Graph and token endpoint).
    type: int
    default: 30
  retry_budget:
    description:
      - Total number of seconds the whole task (every request it sends) may spend retrying throttled (HTTP 429) or
        transiently failing (HTTP 502, 503, 504, dropped connections and read timeouts for reads) requests, and
        waiting for Graph's replication to catch up (a service principal, user or grant that is not visible yet; at
        most 60 seconds of that). C(Retry-After) is honoured; otherwise the wait grows exponentially with jitter.
        When the next wait would exceed the budget the task fails and says how long it tried.
      - A connection that cannot be opened (refused, host name not resolved, connect timeout) is not retried for the
        whole budget (3 attempts and at most 10 seconds of such failures per task); then the task fails and names the
        Graph root it could not reach.
      - A task that retried returns C(retries) (what was retried, why, seconds waited; shown with C(-v)) and warns.
      - A scope change computed from the current grant (C(scope_mode=append) or C(scope_mode=remove)) that is
        throttled is not re-sent as it was. After the wait the grant is read again and the change planned anew, so
        a scope another writer added meanwhile is kept.
      - If not set, the environment variable E(MSGRAPH_RETRY_BUDGET) is used.
    type: int
    default: 120
  token_cache:
    description:
      - Persistent token cache, so that consecutive tasks (separate processes) reuse one token instead of requesting
        a new one each time.
      - Unset (or V(true)) uses C(~/.cache/msgraph.grants) (C($XDG_CACHE_HOME/msgraph.grants) when set). A path
        selects another B(directory). V(false) (or V(off)) disables the persistent cache.
      - Files are private to the user running the module (directory mode 0700, files 0600); a cache file that is
        not is ignored.
      - If not set, the environment variable E(MSGRAPH_TOKEN_CACHE) is used.
    type: str
notes:
  - Environment variables that are set but empty are ignored, so the next name in the list (or the default) applies.
  - Set connection options once for every module of the collection with
    C(module_defaults) and the action group C(group/msgraph.grants.graph).
  - National clouds are selected with O(cloud); O(graph_url) and O(authority_url) override the hosts (for
    example for an emulator or a proxy), and tokens are always requested for the scope of the Graph root in use.
  - Machines that export E(REQUESTS_CA_BUNDLE) would otherwise override a CA configured on a requests session;
    O(ca_path) is applied to every request, so it always wins.
  - The Microsoft Graph permissions the authenticating identity needs are listed in the collection's
    C(docs/permissions.md) (U(https://github.com/msgraph-grants/msgraph.grants/blob/main/docs/permissions.md)).
requirements:
  - python >= 3.9
  - msal >= 1.31.0 (not needed with O(auth_method=access_token))
  - requests >= 2.31.0
  - cryptography (for certificate authentication)
'''
