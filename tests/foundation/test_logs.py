"""Log lines carry request ids and routes, never the personal data in a request."""

from __future__ import annotations

import json
import logging

from shared.logs import JsonFormatter

NAME = "Zebedee Quillfeather"


async def test_no_personal_data_in_logs(formulation_client, auth, caplog):
    caplog.set_level(logging.DEBUG)
    await formulation_client.put(
        "/v1/clusters/RES-1", json={"name": "2gether", "res_start": None}, headers=auth("admin")
    )
    body = {
        "cluster_code": "RES-1",
        "source_code": "2A",
        "referring_organisation": "Park School",
        "support_type": "early_help",
        "reason": f"{NAME} has stopped attending",
        "family": {
            "reference_name": f"The {NAME} family",
            "members": [{"kind": "child", "name": NAME, "birth_year": 2014}],
        },
    }
    ok = await formulation_client.post("/v1/referrals", json=body, headers=auth("partner_system"))
    assert ok.status_code == 201, ok.text
    bad = await formulation_client.post(
        "/v1/referrals", json={**body, "support_type": NAME}, headers=auth("partner_system")
    )
    assert bad.status_code == 422
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records]
    assert any(json.loads(line).get("route") == "/v1/referrals" for line in lines)
    assert all(json.loads(line).get("request_id") for line in lines if '"route"' in line)
    assert not [line for line in lines if "Zebedee" in line or "Quillfeather" in line]
