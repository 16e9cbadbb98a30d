"""The grant id algorithm (docs/dev/graph-behaviour.md#grant-id) against the ids documented by Microsoft."""

import re

import pytest

from graph_emulator.state import grant_id, is_wellformed_grant_id

# (clientId, resourceId, principalId or None) -> documented id. The GUIDs were read off the ids by decoding them with
# uuid.UUID(bytes_le=...); the first entry's GUIDs are also written out in the docs' own example (S3, §2.5), which
# makes it an independent check of byte order and alphabet.
DOCUMENTED = [
    (("263a5b01-03e5-408e-8557-bab681df104c", "1804a6f8-e623-4520-8f40-ba1b0c11c42d", None), "AVs6JuUDjkCFV7q2gd8QTPimBBgj5iBFj0C6GwwRxC0"),
    (("263a5b01-03e5-408e-8557-bab681df104c", "943603e4-e787-4fe9-93d1-e30f749aae39", None), "AVs6JuUDjkCFV7q2gd8QTOQDNpSH5-lPk9HjD3Sarjk"),
    (("ef969797-201d-4f6b-960c-e9ed5f31dab5", "943603e4-e787-4fe9-93d1-e30f749aae39", None), "l5eW7x0ga0-WDOntXzHateQDNpSH5-lPk9HjD3Sarjk"),
    (("b7dc5c41-68a7-4416-ad5d-14a887f1c665", "309fd4c4-851f-46a5-8cae-c2bf480c814b", "4782e723-f4f4-4af3-a76e-25e3bab0d896"),
     "QVzct6doFkStXRSoh_HGZcTUnzAfhaVGjK7Cv0gMgUsj54JH9PTzSqduJeO6sNiW"),
    (("b0d9b9e3-0ecf-4bfd-8dab-9273dd055a94", "7ea9e944-71ce-443d-811c-71e8047b557a", "3fbd929d-8c56-4462-851e-0eb9a7b3a2a5"),
     "47nZsM8O_UuNq5Jz3QValETpqX7OcT1EgRxx6AR7VXqdkr0_VoxiRIUeDrmns6Kl"),
    (("0612c321-db5f-4a32-909e-4f28080557ef", "943603e4-e787-4fe9-93d1-e30f749aae39", None), "IcMSBl_bMkqQnk8oCAVX7-QDNpSH5-lPk9HjD3Sarjk"),
    (("85477313-ea43-4c7d-b8a4-54fed35d0b60", "27fb395a-fb00-45fe-865e-e71db689eea0", "7d54cb02-aaa3-4016-9f9c-a4b49422dd9b"),
     "E3NHhUPqfUy4pFT-010LYFo5-ycA-_5Fhl7nHbaJ7qACy1R9o6oWQJ-cpLSUIt2b"),
    (("b25985a8-9d2b-4fde-9fa7-6c4e43a8ddec", "a3efc889-f1b7-4532-9e01-91e32d1039f4", None), "qIVZsiud3k-fp2xOQ6jd7InI76O38TJFngGR4y0QOfQ"),
    (("580d2cab-fc1a-4ac1-ac02-a562f1c35912", "1a9eef43-408d-4e3e-a38d-e9c82bb88c4c", "63a369d8-9f82-4f90-a826-50ded17f28a8"),
     "qywNWBr8wUqsAqVi8cNZEkPvnhqNQD5Oo43pyCu4jEzYaaNjgp-QT6gmUN7Rfyio"),
    (("ea4f437a-3d02-4e66-bf2a-a70b1bba4d36", "9d7a29ce-9574-4de7-92d7-a3e956523666", None), "ekNP6gI9Zk6_KqcLG7pNNs4pep10ledNktej6VZSNmY"),
]


@pytest.mark.parametrize("key,expected", DOCUMENTED, ids=[case[1][:12] for case in DOCUMENTED])
def test_algorithm_reproduces_documented_ids(key, expected):
    assert grant_id(*key) == expected


@pytest.mark.parametrize("key,expected", DOCUMENTED[:2])
def test_guid_case_does_not_change_the_id(key, expected):
    assert grant_id(*(k.upper() if k else k for k in key)) == expected


def test_lengths_and_alphabet():
    all_principals = grant_id(DOCUMENTED[0][0][0], DOCUMENTED[0][0][1])
    principal = grant_id(*DOCUMENTED[3][0])
    assert len(all_principals) == 43 and len(principal) == 64
    assert re.fullmatch(r"[A-Za-z0-9_-]+", all_principals + principal)


def test_principal_changes_the_id_but_not_the_prefix():
    client, resource = DOCUMENTED[0][0][:2]
    base = grant_id(client, resource)
    with_user = grant_id(client, resource, "3fbd929d-8c56-4462-851e-0eb9a7b3a2a5")
    assert with_user != base and with_user.startswith(base[:42])


@pytest.mark.parametrize("value,ok", [
    ("AVs6JuUDjkCFV7q2gd8QTPimBBgj5iBFj0C6GwwRxC0", True),
    ("QVzct6doFkStXRSoh_HGZcTUnzAfhaVGjK7Cv0gMgUsj54JH9PTzSqduJeO6sNiW", True),
    ("263a5b01-03e5-408e-8557-bab681df104c", False),  # a GUID, the common mistake (§12.27)
    ("AVs6JuUDjkCFV7q2gd8QTPimBBgj5iBFj0C6GwwRxC", False),  # 42 characters
    ("AVs6JuUDjkCFV7q2gd8QTPimBBgj5iBFj0C6GwwRxC+", False),  # not base64url
    ("", False),
])
def test_wellformed_grant_ids(value, ok):
    assert is_wellformed_grant_id(value) is ok
