"""The OpenAPI document describes every body, including those routes validate themselves."""

from __future__ import annotations

import json
import re

from tests.service.conftest import Service


def test_every_schema_reference_resolves(service: Service) -> None:
    doc = service.client.get("/openapi.json").json()
    refs = set(re.findall(r"#/components/schemas/([\w.-]+)", json.dumps(doc)))
    assert refs <= set(doc["components"]["schemas"]), refs - set(doc["components"]["schemas"])


def test_seal_bodies_are_documented(service: Service) -> None:
    doc = service.client.get("/openapi.json").json()
    for path, model in (("/v1/seals", "SealCreate"), ("/v1/seals/batch", "BatchCreate")):
        body = doc["paths"][path]["post"]["requestBody"]
        assert body["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{model}"}
    assert "hash" in doc["components"]["schemas"]["SealCreate"]["properties"]
