"""Grant listings fast enough for tenant-scale tests (100,000 grants listed 999 a page): the grants sorted by id
(the keyset order of paging) and indexed by clientId and resourceId, rebuilt only when a grant is created or
deleted (``Directory.grants_revision``). Used only while no replication-lag view is pending (those reads take the
slow, exact path)."""


def _index(directory):
    cached = getattr(directory, "_grant_index_cache", None)
    if cached is None or cached[0] != directory.grants_revision:
        ordered = [directory.grants[gid] for gid in sorted(directory.grants)]
        by_key = {}
        for grant in ordered:
            for prop in ("clientId", "resourceId"):
                by_key.setdefault((prop, (grant.get(prop) or "").lower()), []).append(grant)
        cached = (directory.grants_revision, ordered, by_key)
        directory._grant_index_cache = cached  # pylint: disable=protected-access
    return cached


def sorted_grants(directory) -> list:
    """Every grant ordered by id (a new list; the caller may keep it)."""
    return list(_index(directory)[1])


def candidates(directory, predicate) -> list:
    """The grants a listing with ``predicate`` (a compiled ``$filter``) must look at: those of the filtered client or
    resource when the filter names one, else all of them; each still goes through ``predicate``."""
    if directory.has_pending_views():
        return directory.visible_grants()
    _revision, ordered, by_key = _index(directory)
    for prop in ("clientId", "resourceId"):
        values = predicate.values_of(prop)
        if values:
            return by_key.get((prop, values[0].lower()), [])
    return ordered
