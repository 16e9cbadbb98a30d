"""Fixed ids of the default seed's drives (docs/dev/emulator.md, "Default seed: drives") and small helpers."""

from urllib.parse import quote

ONEDRIVE = "b!0mx27ZgxWg2nks-7k6sa6Wh1Hgm1e1wmuC-kQEI9QUmnNAp-0mtYiLB97Awus4Aj"
LIBRARY = "b!g3-jmtJWUF2rTGvgDAB1j6YZZI7R012yitAldMT-O0KBHLDlMgRTAalpkZZjo1b4"
SITE = "contoso.sharepoint.com,6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0,7a2f3e4d-5c6b-4a79-9887-b6c5d4e3f2a1"
GROUP_MARKETING = "8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d"
GROUP_FINANCE = "9b0c1d2e-3f4a-4b5c-9d7e-8f9a0b1c2d3e"
MEGAN_UPN = "megan.bowen@contoso.onmicrosoft.com"

ROOT = "01XIHSBBUAGYYKVBOOPGK646ZEH7HJUQC6"
PROJECTS = "0126KSPYDVTURH3J6JKEMKRNPKV3F3TENG"
PLAN = "01T6IZ6OAMGXGU2PZYRLG6HEI3T2TILE75"  # Projects/Q3 #1 plan.docx
BUDGET = "01VBMJ2AKSAZQ456ZK66YRINURZDXKM3KL"  # Projects/Budget 100% final.xlsx
RESUME = "01ZI3SQVE7B7J5UYIV33L7KI3BCBR6SCAZ"  # Résumé Megan.docx
LIB_ROOT = "01OY4XM436E7JOIJ5JETFG7ZS5YYQ4TN37"
SHARED_PLANS = "01YBAHQARJSG67WG6F5DTK2D4PBUMPSP4J"
LAUNCH = "01K43W4QUI2PMXLOICX43DAD7CXOKS2EWG"  # Shared Plans/Launch #2 (50% off).pptx
CAFE = "01BCVQF52EANUAMI26FHEIDVZYP7COJJ2A"  # Shared Plans/Café menü.docx
CAMPAIGNS = "01V2FD6O5E3XIIXWPIBP62NMBWGU62HWMA"

P_MEGAN = "aTowIy5mfG1lbWJlcnNoaXB8bWVnYW4uYm93ZW5AY29udG9zby5vbm1pY3Jvc29mdC5jb20"
P_ALEX = "aTowIy5mfG1lbWJlcnNoaXB8YWxleC53aWxiZXJAY29udG9zby5vbm1pY3Jvc29mdC5jb20"
P_ONEIL = "aTowIy5mfG1lbWJlcnNoaXB8byduZWlsQGNvbnRvc28ub25taWNyb3NvZnQuY29t"
P_ADELE = "aTowIy5mfG1lbWJlcnNoaXB8YWRlbGUudmFuY2VfZmFicmlrYW0uY29tI2V4dCNAY29udG9zby5vbm1pY3Jvc29mdC5jb20"
P_LEE = "aTowIy5mfG1lbWJlcnNoaXB8bGVlLmd1QGNvbnRvc28ub25taWNyb3NvZnQuY29t"
P_BACKUP = "aTowIy5mfG1lbWJlcnNoaXB8JHN2Yy1iYWNrdXBAY29udG9zby5vbm1pY3Jvc29mdC5jb20"
P_KIM = "aW52aXRhdGlvbjpr+aW1AZmFi/cmlrYW0"  # pending invitation; + and / need percent-encoding
P_ORG_LINK = "64c30976-e50e-5e0c-84d1-5919bc2b4f4c"
P_USERS_LINK = "7ae6ec36-5e35-54f8-9575-d5a1bf7c5f89"
P_ANON_LINK = "8d818934-c58d-5c20-8a07-7414aa790cea"
P_FINANCE = "YzowdC5jfHRlbmFudHw5YjBjMWQyZS0zZjRhLTRiNWMtOWQ3ZS04ZjlhMGIxYzJkM2U"
P_OWNERS = "U2hhcmVQb2ludEdyb3VwfE1hcmtldGluZyBPd25lcnM"
P_MEMBERS = "U2hhcmVQb2ludEdyb3VwfE1hcmtldGluZyBNZW1iZXJz"


def enc(path: str) -> str:
    """Per-segment percent-encoding, as a client must send a drive path."""
    return "/".join(quote(segment, safe="") for segment in path.split("/"))


def item_url(item_id: str, drive: str = ONEDRIVE) -> str:
    return f"/drives/{drive}/items/{item_id}"


def perm_url(item_id: str, perm_id: str, drive: str = ONEDRIVE) -> str:
    return f"{item_url(item_id, drive)}/permissions/{quote(perm_id, safe='')}"


def all_permissions(api, item_id: str, drive: str = ONEDRIVE, **kwargs) -> list:
    return [p for page in api.get_all(f"{item_url(item_id, drive)}/permissions", **kwargs) for p in page["value"]]


def by_id(permissions: list) -> dict:
    return {p["id"]: p for p in permissions}
