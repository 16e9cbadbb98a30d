"""Graph roots of the national clouds (the ``cloud`` fault knob): used in ``@odata.context``/``@odata.id`` and as
the only token audience Graph accepts while the knob is set."""

CLOUD_GRAPH_ROOTS = {
    "global": "https://graph.microsoft.com",
    "usgov": "https://graph.microsoft.us",
    "usgov_dod": "https://dod-graph.microsoft.us",
    "china": "https://microsoftgraph.chinacloudapi.cn",
}
