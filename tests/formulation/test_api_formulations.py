"""Rethink Formulation over HTTP: 6 Ps, 4 Ps, next steps, walk-back, completion, versions, ETags."""

from __future__ import annotations

from typing import Any

import httpx

from tests.formulation.conftest import Org, audit_rows, outbox

ALL_FOUR = {"prerequisite": True, "powerful": True, "proximal": True, "participant_goal": True}


class Draft:
    """A draft formulation driven through the API by one caller."""

    def __init__(self, org: Org, headers: dict[str, str], fid: str, etag: str) -> None:
        self.org, self.headers, self.id, self.etag = org, headers, fid, etag
        self.f: dict[str, str] = {}

    @property
    def c(self) -> httpx.AsyncClient:
        return self.org.client

    def _h(self) -> dict[str, str]:
        return {**self.headers, "If-Match": self.etag}

    def _keep(self, r: httpx.Response) -> httpx.Response:
        if "etag" in r.headers:
            self.etag = r.headers["etag"]
        return r

    async def factor(self, name: str, kind: str, text: str | None = None, **extra: Any) -> str:
        r = self._keep(
            await self.c.post(
                f"/v1/formulations/{self.id}/factors",
                json={"kind": kind, "text": text or f"{kind} {name}", **extra},
                headers=self._h(),
            )
        )
        assert r.status_code == 201, r.text
        self.f[name] = r.json()["id"]
        return self.f[name]

    async def prioritise(self, name: str, **flags: bool) -> httpx.Response:
        return self._keep(
            await self.c.put(
                f"/v1/formulations/{self.id}/factors/{self.f[name]}/prioritisation",
                json={**ALL_FOUR, **flags},
                headers=self._h(),
            )
        )

    async def next_steps(self, goal: list[str], steps: list[tuple[list[str], list[str]]]) -> httpx.Response:
        body = {
            "summary": "School refusal is kept going by morning conflict.",
            "overall_goal": {
                "text": "Charlie attends school every day",
                "factor_ids": [self.f[n] for n in goal],
            },
            "steps": [
                {
                    "text": f"step {i}",
                    "addresses_factor_ids": [self.f[n] for n in addr],
                    "builds_on_factor_ids": [self.f[n] for n in builds],
                }
                for i, (addr, builds) in enumerate(steps)
            ],
        }
        return self._keep(
            await self.c.put(f"/v1/formulations/{self.id}/next-steps", json=body, headers=self._h())
        )

    async def walk_back(self) -> dict[str, Any]:
        r = await self.c.get(f"/v1/formulations/{self.id}/walk-back", headers=self.headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def complete(self, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
        h = {**(headers or self.headers), "If-Match": self.etag}
        return self._keep(
            await self.c.post(f"/v1/formulations/{self.id}/complete", json=body or None, headers=h)
        )


async def start(org: Org, headers: dict[str, str] | None = None, family_id: str | None = None) -> Draft:
    headers = headers or org.sw1
    family_id = family_id or await org.family()
    r = await org.client.post(
        f"/v1/families/{family_id}/formulations",
        json={"context": "with_family", "participants": [{"role": "mother"}, {"role": "school"}]},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["version"], body["status"]) == (1, "draft")
    return Draft(org, headers, body["id"], r.headers["etag"])


async def clean(org: Org, headers: dict[str, str] | None = None) -> Draft:
    d = await start(org, headers)
    await d.factor("now", "presenting", "Charlie is not going to school", driving=True)
    await d.factor("keeps", "perpetuating", "Morning arguments")
    await d.factor("other", "perpetuating", "Screen time late at night")
    await d.factor("nan", "protective", "Grandmother lives nearby")
    assert (await d.prioritise("keeps")).json()["priority"] is True
    r = await d.next_steps(["now"], [(["keeps"], ["nan"])])
    assert r.status_code == 200, r.text
    return d


def codes(walk: dict[str, Any]) -> list[str]:
    return [p["code"] for p in walk["problems"]]


async def test_factor_kinds_are_validated(org: Org) -> None:
    d = await start(org)
    r = await org.client.post(
        f"/v1/formulations/{d.id}/factors",
        json={"kind": "problem", "text": "x"},
        headers={**org.sw1, "If-Match": d.etag},
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (r.json()["field"], r.json()["rule"]) == ("body.kind", "factor_kind")
    for kind in ("presenting", "predisposing", "precipitating", "perpetuating", "protective"):
        await d.factor(kind, kind)
    await d.factor("next", "predicting")  # the seed's other spelling
    got = (await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)).json()
    assert sorted(f["kind"] for f in got["factors"]) == sorted(
        ["presenting", "predisposing", "precipitating", "perpetuating", "protective", "predictive"]
    )


async def test_priority_only_when_all_four_ps_hold(org: Org) -> None:
    d = await start(org)
    await d.factor("p", "perpetuating")
    for missing in ALL_FOUR:
        r = await d.prioritise("p", **{missing: False})
        assert r.status_code == 200, r.text
        assert r.json()["priority"] is False, missing
    r = await d.prioritise("p")
    assert r.json()["priority"] is True
    await d.factor("now", "presenting")
    r = await d.prioritise("now")
    assert r.status_code == 422
    assert r.json()["rule"] == "prioritisation_only_for_perpetuating"


async def test_clean_walk_back_then_each_problem_detected(org: Org) -> None:
    d = await clean(org)
    assert await d.walk_back() == {"ok": True, "problems": []}
    # a step that addresses no priority perpetuating factor
    await d.next_steps(["now"], [(["keeps"], ["nan"]), (["other"], ["nan"])])
    walk = await d.walk_back()
    assert codes(walk) == ["step_addresses_no_priority_factor"]
    assert walk["problems"][0]["step_index"] == 1
    # a priority factor that no step addresses
    await d.prioritise("other")
    await d.next_steps(["now"], [(["keeps"], ["nan"])])
    walk = await d.walk_back()
    assert codes(walk) == ["priority_factor_unaddressed"]
    assert walk["problems"][0]["factor_id"] == d.f["other"]
    # an overall goal not linked to a presenting factor; no protective factor used
    await d.next_steps(["keeps"], [(["keeps", "other"], [])])
    assert codes(await d.walk_back()) == [
        "goal_not_linked_to_presenting",
        "no_protective_factor_used",
    ]


async def test_no_presenting_factor_detected(org: Org) -> None:
    d = await start(org)
    await d.factor("keeps", "perpetuating")
    await d.factor("nan", "protective")
    await d.prioritise("keeps")
    await d.next_steps([], [(["keeps"], ["nan"])])
    assert codes(await d.walk_back()) == ["no_presenting_factor", "goal_not_linked_to_presenting"]


async def test_next_steps_links_are_checked(org: Org) -> None:
    d = await clean(org)
    r = await d.next_steps(["now"], [(["keeps"], ["keeps"])])
    assert r.status_code == 422
    assert r.json()["rule"] == "builds_on_must_be_protective"
    assert r.json()["field"] == "body.steps[0].builds_on_factor_ids"


async def test_completion_blocked_then_allowed_and_event(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    d = await start(org)
    await d.factor("now", "presenting")
    blocked = await d.complete()
    assert blocked.status_code == 409
    assert blocked.json()["rule"] == "walk_back_failed"
    assert "no_next_steps" in [p["code"] for p in blocked.json()["problems"]]
    await d.factor("keeps", "perpetuating", driving=True)
    await d.factor("nan", "protective")
    await d.prioritise("keeps")
    await d.next_steps(["now"], [(["keeps"], ["nan"])])
    done = await d.complete()
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    events = await outbox(db_engine, "formulation.completed")
    assert len(events) == 1
    payload = events[0]["payload"]
    assert payload["formulation_id"] == d.id and payload["version"] == 1
    kinds = {f["factor_id"]: (f["kind"], f["priority"], f["driving"]) for f in payload["factors"]}
    assert kinds[d.f["keeps"]] == ("perpetuating", True, True)
    assert kinds[d.f["now"]] == ("presenting", False, False)
    assert payload["lead_worker_sub"] == "sw1" and payload["team_id"] == org.team_id


async def test_override_needs_a_team_manager_and_a_reason(org: Org) -> None:
    d = await start(org, org.tm)
    await d.factor("now", "presenting")
    as_practitioner = await d.complete(org.sw1, override_reason="family wants to start now")
    assert as_practitioner.status_code == 409
    assert as_practitioner.json()["rule"] == "override_requires_team_manager"
    no_reason = await d.complete(org.tm)
    assert no_reason.json()["rule"] == "walk_back_failed"
    ok = await d.complete(org.tm, override_reason="family wants to start now")
    assert ok.status_code == 200, ok.text
    assert ok.json()["override_reason"] == "family wants to start now"


async def test_completed_is_immutable_and_reformulating_opens_version_two(org: Org) -> None:
    d = await clean(org)
    assert (await d.complete()).status_code == 200
    r = await org.client.post(
        f"/v1/formulations/{d.id}/factors",
        json={"kind": "presenting", "text": "x"},
        headers={**org.sw1, "If-Match": d.etag},
    )
    assert r.status_code == 409 and r.json()["rule"] == "formulation_completed"
    r = await d.prioritise("other")
    assert r.status_code == 409
    r = await org.client.post(f"/v1/formulations/{d.id}/reformulate", headers=org.sw1)
    assert r.status_code == 201, r.text
    v2 = r.json()
    assert (v2["version"], v2["status"], v2["previous_id"]) == (2, "draft", d.id)
    again = await org.client.post(f"/v1/formulations/{d.id}/reformulate", headers=org.sw1)
    assert again.status_code == 409 and again.json()["rule"] == "draft_exists"
    got = (await org.client.get(f"/v1/formulations/{v2['id']}", headers=org.sw1)).json()
    assert len(got["factors"]) == 4
    assert not {f["id"] for f in got["factors"]} & set(d.f.values())
    walk = await org.client.get(f"/v1/formulations/{v2['id']}/walk-back", headers=org.sw1)
    assert walk.json()["ok"] is True  # the copied next steps point at the copied factors
    v1 = (await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)).json()
    assert v1["status"] == "completed" and len(v1["factors"]) == 4


async def test_stale_if_match_is_412_and_missing_is_428(org: Org) -> None:
    d = await clean(org)
    stale = d.etag
    await d.prioritise("other", powerful=False)  # moves the ETag on
    assert d.etag != stale
    r = await org.client.put(
        f"/v1/formulations/{d.id}/factors/{d.f['other']}/prioritisation",
        json=ALL_FOUR,
        headers={**org.sw1, "If-Match": stale},
    )
    assert r.status_code == 412 and r.json()["rule"] == "stale_etag"
    r = await org.client.put(
        f"/v1/formulations/{d.id}/factors/{d.f['other']}/prioritisation",
        json=ALL_FOUR,
        headers=org.sw1,
    )
    assert r.status_code == 428
    got = await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)
    assert got.headers["etag"] == d.etag
    other = next(f for f in got.json()["factors"] if f["id"] == d.f["other"])
    assert other["priority"] is False  # the stale write changed nothing


async def test_reformulation_request_from_goals_is_resolved_by_completion(
    org: Org, backbone, deliver_events
) -> None:  # type: ignore[no-untyped-def]
    import uuid

    from shared.consumer import apply_event
    from shared.events import build_envelope

    d = await clean(org)
    assert (await d.complete()).status_code == 200
    family_id = (await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)).json()["family_id"]
    from services.formulation_api.consumers import HANDLERS

    env = build_envelope(
        "goals",
        "plan.reformulation_needed",
        uuid.uuid4(),
        {
            "plan_id": str(uuid.uuid4()),
            "family_id": family_id,
            "formulation_id": d.id,
            "flagged_on": "2026-03-01",
            "reviews_without_progress": 3,
        },
    )
    sm = backbone.sessionmakers["formulation"]
    assert await apply_event(sm, "formulation", HANDLERS, env) is True
    assert await apply_event(sm, "formulation", HANDLERS, env) is False  # replay: no effect
    got = (await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)).json()
    assert got["reformulation_requested_on"] == "2026-03-01"
    v2 = (await org.client.post(f"/v1/formulations/{d.id}/reformulate", headers=org.sw1)).json()
    d2 = Draft(
        org,
        org.sw1,
        v2["id"],
        (await org.client.get(f"/v1/formulations/{v2['id']}", headers=org.sw1)).headers["etag"],
    )
    assert (await d2.complete()).status_code == 200
    got = (await org.client.get(f"/v1/formulations/{v2['id']}", headers=org.sw1)).json()
    assert got["reformulation_requested_on"] is None


async def test_reads_and_writes_are_audited(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    d = await clean(org)
    await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)
    reads = await audit_rows(db_engine, "read", "formulation")
    assert [(r.actor, r.resource_id) for r in reads] == [("sw1", d.id)]
    updates = await audit_rows(db_engine, "update", "formulation")
    assert len(updates) == 6  # 4 factors, 1 prioritisation, 1 next steps


async def test_patch_and_delete_factor(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    d = await clean(org)
    url = f"/v1/formulations/{d.id}/factors"
    no_tag = await org.client.patch(f"{url}/{d.f['other']}", json={"driving": True}, headers=org.sw1)
    assert no_tag.status_code == 428
    r = await org.client.patch(
        f"{url}/{d.f['other']}", json={"driving": True}, headers={**org.sw1, "If-Match": d.etag}
    )
    assert r.status_code == 200 and r.json()["driving"] is True
    d.etag = r.headers["etag"]
    in_use = await org.client.delete(f"{url}/{d.f['keeps']}", headers={**org.sw1, "If-Match": d.etag})
    assert in_use.status_code == 409 and in_use.json()["rule"] == "factor_in_use"
    gone = await org.client.delete(f"{url}/{d.f['other']}", headers={**org.sw1, "If-Match": d.etag})
    assert gone.status_code == 204
    got = (await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)).json()
    assert d.f["other"] not in {f["id"] for f in got["factors"]}
    created = await audit_rows(db_engine, "create", "family")
    assert len(created) == 1  # the family opened on acceptance is audited too


async def test_a_patch_that_changes_nothing_keeps_the_etag(org: Org, db_engine) -> None:  # type: ignore[no-untyped-def]
    d = await clean(org)
    url = f"/v1/formulations/{d.id}/factors/{d.f['other']}"
    updates = len(await audit_rows(db_engine, "update", "formulation"))
    before = (await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)).json()
    for body in ({}, {"text": "Screen time late at night"}, {"driving": False}, {"text": None}):
        r = await org.client.patch(url, json=body, headers={**org.sw1, "If-Match": d.etag})
        assert r.status_code == 200, r.text
        assert r.headers["etag"] == d.etag, body
        assert r.json()["text"] == "Screen time late at night"
    got = await org.client.get(f"/v1/formulations/{d.id}", headers=org.sw1)
    assert got.headers["etag"] == d.etag and got.json() == before
    assert len(await audit_rows(db_engine, "update", "formulation")) == updates
    # The If-Match gate still applies to a no-op: a stale tag is 412, as for any change.
    stale = await org.client.patch(url, json={}, headers={**org.sw1, "If-Match": '"1"'})
    assert stale.status_code == 412
    r = await org.client.patch(url, json={"driving": True}, headers={**org.sw1, "If-Match": d.etag})
    assert r.status_code == 200 and r.headers["etag"] != d.etag
