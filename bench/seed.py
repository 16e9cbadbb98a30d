"""Seeds for the msgraph.grants benchmark: N client service principals, the resources, and optionally grants.

Importable (``bench/run.py`` uses it) and a small CLI for running a scenario by hand::

    .venv/bin/python bench/seed.py --clients 200 > /tmp/seed.json            # 200 clients + Microsoft Graph
    .venv/bin/python bench/seed.py --clients 1000 --grants 5000 > /tmp/s.json # 1000 clients x 5 resources
    .venv/bin/python bench/seed.py --clients 1000 --background 2000 --user-consents 20000 > /tmp/s.json

Every id is derived (uuid5) from a fixed namespace and the object's index, so two runs make the same directory and
the same grants; the load it puts on the emulator is the same from one benchmark run to the next.
"""

import argparse
import json
import sys
import uuid

NAMESPACE = uuid.UUID("6f1c1f0e-5b7a-4c55-9a53-0b3a1f1e9c42")

# Microsoft Graph as in emulator/graph_emulator/seed_default.json (real ids), reduced to the scopes the runs use.
GRAPH_SP = {
    "id": "1f7a3c52-8d4e-4b6a-9c1d-2e3f4a5b6c7d",
    "appId": "00000003-0000-0000-c000-000000000000",
    "displayName": "Microsoft Graph",
    "servicePrincipalType": "Application",
    "accountEnabled": True,
    "oauth2PermissionScopes": [
        {"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "value": "User.Read"},
        {"id": "37f7f235-527c-4136-accd-4a02d197296e", "value": "openid"},
        {"id": "14dad69e-099b-42c9-810b-d002981feec1", "value": "profile"},
        {"id": "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0", "value": "email"},
        {"id": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182", "value": "offline_access"},
        {"id": "570282fd-fa5c-430d-a7fd-fc8dc98a9dca", "value": "Mail.Read"},
    ],
}
# The scopes every benchmark grant asks for (first run creates them, the second finds them in place).
GRANT_SCOPES = ["User.Read", "openid", "profile"]


def guid(kind, index):
    return str(uuid.uuid5(NAMESPACE, "{0}-{1}".format(kind, index)))


def client_sp(index):
    return {
        "id": guid("client-sp", index),
        "appId": guid("client-app", index),
        "displayName": "Bench Client {0:05d}".format(index),
        "servicePrincipalType": "Application",
        "accountEnabled": True,
        "oauth2PermissionScopes": [],
    }


def resource_sps(count):
    """Microsoft Graph, then count-1 more APIs ("Bench API 1", ...) publishing the same scope values."""
    out = [dict(GRAPH_SP)]
    for index in range(1, count):
        out.append({
            "id": guid("resource-sp", index),
            "appId": guid("resource-app", index),
            "displayName": "Bench API {0}".format(index),
            "servicePrincipalType": "Application",
            "accountEnabled": True,
            "oauth2PermissionScopes": [
                {"id": guid("resource-scope-{0}".format(index), s["value"]), "value": s["value"]}
                for s in GRAPH_SP["oauth2PermissionScopes"]
            ],
        })
    return out


def background_sp(index):
    return {
        "id": guid("other-sp", index),
        "appId": guid("other-app", index),
        "displayName": "Bench Other {0:05d}".format(index),
        "servicePrincipalType": "Application",
        "accountEnabled": True,
        "oauth2PermissionScopes": [],
    }


def bench_user(index):
    return {"id": guid("user", index), "userPrincipalName": "bench.user{0:05d}@contoso.onmicrosoft.com".format(index),
            "displayName": "Bench User {0:05d}".format(index)}


def add_background(seed, background=0, user_consents=0, users=200):
    """Background on Microsoft Graph, as real tenants carry it: ``background`` AllPrincipals grants of other apps
    ("Bench Other NNNNN"), and ``user_consents`` per-user consents of ``users`` users to the first of those apps
    (consent k: app k // users, user k % users)."""
    apps = max(background, -(-user_consents // users) if user_consents else 0)
    seed["servicePrincipals"].extend(background_sp(i) for i in range(apps))
    if user_consents:
        seed["users"].extend(bench_user(i) for i in range(min(users, user_consents)))
    graph = GRAPH_SP["id"]
    for i in range(background):
        seed["grants"].append({"clientId": guid("other-sp", i), "consentType": "AllPrincipals", "principalId": None,
                               "resourceId": graph, "scope": "User.Read"})
    for k in range(user_consents):
        seed["grants"].append({"clientId": guid("other-sp", k // users), "consentType": "Principal",
                               "principalId": guid("user", k % users), "resourceId": graph, "scope": "openid profile"})
    return seed


def with_directory_read(seed, default_seed):
    """The emulator's default applications, the automation identity (the default one) also holding
    Directory.Read.All: oauth2_grants and oauth2_grant_info then read many objects by id in one request
    (POST /directoryObjects/getByIds)."""
    apps = json.loads(json.dumps(default_seed["apps"]))
    for app in apps:
        if app.get("default") and "Directory.Read.All" not in app["permissions"]:
            app["permissions"].append("Directory.Read.All")
    seed["apps"] = apps
    return seed


def make_seed(clients, grants=0, resources=None, scope=" ".join(GRANT_SCOPES)):
    """A seed with ``clients`` client SPs and the resource SPs.

    ``grants``: how many AllPrincipals grants to put in place, spread client-major over the resources
    (client 0 -> resource 0..R-1, client 1 -> ...); ``resources`` defaults to just enough for ``grants``.
    """
    if resources is None:
        resources = max(1, -(-grants // clients)) if clients else 1
    if grants > clients * resources:
        raise ValueError("{0} grants need more than {1} clients x {2} resources".format(grants, clients, resources))
    sps = resource_sps(resources)
    clients_list = [client_sp(i) for i in range(clients)]
    grant_list = []
    for n in range(grants):
        grant_list.append({
            "clientId": clients_list[n // resources]["id"],
            "consentType": "AllPrincipals",
            "principalId": None,
            "resourceId": sps[n % resources]["id"],
            "scope": scope,
        })
    return {"servicePrincipals": sps + clients_list, "users": [], "grants": grant_list}


def declared_grants(clients, form="id"):
    """The grants list the role and the baseline apply: client i -> Microsoft Graph, GRANT_SCOPES.

    ``form``: how the client and the resource are named: ``id`` (object ids), ``appId`` or ``name``.
    """
    out = []
    for index in range(clients):
        sp = client_sp(index)
        if form == "id":
            client, resource = sp["id"], GRAPH_SP["id"]
        elif form == "appId":
            client, resource = sp["appId"], GRAPH_SP["appId"]
        else:
            client, resource = sp["displayName"], GRAPH_SP["displayName"]
        out.append({"client": client, "resource": resource, "scopes": list(GRANT_SCOPES)})
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--grants", type=int, default=0)
    parser.add_argument("--resources", type=int)
    parser.add_argument("--background", type=int, default=0, help="AllPrincipals grants of other apps on Microsoft Graph")
    parser.add_argument("--user-consents", type=int, default=0, help="per-user consents on Microsoft Graph")
    args = parser.parse_args(argv)
    seed = add_background(make_seed(args.clients, args.grants, args.resources), args.background, args.user_consents)
    json.dump(seed, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
