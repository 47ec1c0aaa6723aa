"""The OpenAPI document tells the truth: every field typed, the registry receiver described with the answers it
gives, errors in Harbor's shape, and the X-Is-Resource-Name header where a path names a project."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.registry.views import ACCEPTED_TYPES
from tests.support import replay
from tests.support.state import send

TYPED = ("type", "$ref", "allOf", "oneOf", "anyOf")


def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/v2.0/openapi.json")
    assert response.status_code == 200
    return dict(response.get_json())


def schemas_in(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object below ``node`` that describes a value: properties, items, additional properties."""
    if isinstance(node, dict):
        for name, value in node.get("properties", {}).items():
            yield f"{where}.properties.{name}", value
        if isinstance(node.get("items"), dict):
            yield f"{where}.items", node["items"]
        if isinstance(node.get("additionalProperties"), dict):
            yield f"{where}.additionalProperties", node["additionalProperties"]
        for key, value in node.items():
            yield from schemas_in(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from schemas_in(value, f"{where}[{index}]")


def test_every_property_in_the_document_has_a_type(client: FlaskClient) -> None:
    doc = document(client)
    found = list(schemas_in(doc, "#"))
    assert len(found) > 100  # the walk reaches the schemas
    untyped = [where for where, schema in found if not any(key in schema for key in TYPED)]
    assert untyped == []


def test_the_registry_receiver_is_documented_with_its_content_types_and_answers(client: FlaskClient) -> None:
    doc = document(client)
    operation = doc["paths"]["/service/notifications"]["post"]
    assert set(operation["requestBody"]["content"]) == set(ACCEPTED_TYPES)
    assert set(operation["responses"]) == {"200", "400", "401", "413", "415", "503"}
    assert operation["security"] == [{"bearerAuth": []}]
    envelope = doc["components"]["schemas"]["NotificationEnvelope"]
    assert envelope["required"] == ["events"]
    # The documented answer is the one the receiver gives.
    receipt = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    delivery = next(iter(replay.deliveries("push_oci_alpine_3.19")))
    status, answer = send(client, delivery)
    assert status == 200
    assert set(doc["components"]["schemas"][receipt]["properties"]) == set(answer)
    for code in ("400", "401", "413", "415", "503"):
        error = operation["responses"][code]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/HarborError"}, code
    assert "Retry-After" in operation["responses"]["503"]["headers"]
    refused = client.post(
        "/service/notifications",
        data=b"{}",
        content_type="text/plain",
        headers={"Authorization": f"Bearer {replay.TOKEN}"},
    )
    assert refused.status_code == 415 and set(refused.get_json()) == {"errors"}


def test_errors_are_documented_in_harbors_shape(client: FlaskClient) -> None:
    doc = document(client)
    error = doc["components"]["schemas"]["HarborError"]
    assert set(error["properties"]) == {"errors"}
    item = error["properties"]["errors"]["items"]["$ref"].rsplit("/", 1)[1]
    assert set(doc["components"]["schemas"][item]["properties"]) == {"code", "message"}
    for name in ("DEFAULT_ERROR", "BAD_REQUEST"):
        schema = doc["components"]["responses"][name]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/HarborError"}
    actual = client.get("/api/v2.0/projects/nope").get_json()
    assert set(actual) == {"errors"} and set(actual["errors"][0]) == {"code", "message"}


def test_paths_naming_a_project_document_the_resource_name_header(client: FlaskClient) -> None:
    paths = document(client)["paths"]
    named = [p for p in paths if p.startswith("/api/v2.0/projects/{")]
    assert len(named) >= 15
    for path in named:
        parameters = [p["name"] for p in paths[path].get("parameters", [])]
        assert "X-Is-Resource-Name" in parameters, path
    for path in (p for p in paths if p.startswith("/api/projects/")):
        assert "X-Is-Resource-Name" not in [p["name"] for p in paths[path].get("parameters", [])], path


def test_the_new_project_operations_are_documented(client: FlaskClient) -> None:
    paths = document(client)["paths"]
    assert {"get", "post", "head"} <= set(paths["/api/v2.0/projects"])
    assert "project_name" in [p["name"] for p in paths["/api/v2.0/projects"]["head"]["parameters"]]
    assert {"get", "put", "delete"} <= set(paths["/api/v2.0/projects/{project_name_or_id}"])
    assert "412" in paths["/api/v2.0/projects/{project_name_or_id}"]["delete"]["responses"]
    assert "get" in paths["/api/v2.0/projects/{project_name}/repositories/{repository_name}"]
    assert "get" in paths["/api/v2.0/audit-logs"]


def test_the_document_states_the_input_bounds_a_generated_client_must_keep(make_app: Callable[..., Flask]) -> None:
    doc = document(make_app(max_targets=7).test_client())
    schemas = doc["components"]["schemas"]
    policy, target = schemas["PolicyBody"]["properties"], schemas["TargetBody"]["properties"]
    # The targets' bound is the setting's (DOCKHOOK_MAX_TARGETS) of the app serving the document.
    assert (policy["targets"]["minItems"], policy["targets"]["maxItems"]) == (1, 7)
    assert (policy["event_types"]["minItems"], policy["event_types"]["maxItems"]) == (1, 16)
    assert policy["event_types"]["items"]["maxLength"] == 64
    assert (policy["name"]["maxLength"], policy["description"]["maxLength"], policy["creator"]["maxLength"]) == (
        256,
        4096,
        255,
    )
    assert (target["address"]["maxLength"], target["auth_header"]["maxLength"], target["secret"]["maxLength"]) == (
        2048,
        4096,
        128,
    )
    assert set(target["payload_format"]["enum"]) == {"", "Default", "CloudEvents", "Template", None}
    assert set(target["type"]["enum"]) == {"http", "slack", "teams", "mattermost", "discord", "googlechat"}
    assert (target["template"]["maxLength"], target["content_type"]["maxLength"]) == (16384, 64)
    assert (target["max_per_second"]["minimum"], target["max_per_second"]["maximum"]) == (0.01, 1000.0)
    project = schemas["ProjectCreate"]["properties"]
    assert (project["project_name"]["maxLength"], project["project_name"]["pattern"]) == (
        255,
        r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$",
    )
    metadata = project["metadata"]
    assert metadata["maxProperties"] == 32 and metadata["properties"]["public"]["nullable"] is True
    assert metadata["additionalProperties"] == {"type": "string", "maxLength": 256, "nullable": True}
    operations = [(path, op) for path, ops in doc["paths"].items() for name, op in ops.items() if name != "parameters"]
    for path, op in operations:
        parameters = {p["name"]: p for p in op.get("parameters", []) + doc["paths"][path].get("parameters", [])}
        if "page" in parameters:
            assert parameters["page"]["schema"]["minimum"] == 1 and parameters["page"]["schema"]["maximum"] == 2**31 - 1
            assert (parameters["page_size"]["schema"]["minimum"], parameters["page_size"]["schema"]["maximum"]) == (
                1,
                100,
            )
        for parameter in parameters.values():
            if parameter["schema"].get("type") == "integer":
                assert parameter["schema"]["maximum"] <= 2**31 - 1, (path, parameter["name"])
            if parameter["schema"].get("format") == "date-time":
                assert "1970-01-01" in parameter["description"], (path, parameter["name"])
            if parameter["in"] == "query" and parameter["schema"].get("type") == "string":
                bounded = {"maxLength", "enum", "format"} & set(parameter["schema"])
                assert bounded, (path, parameter["name"])
    for name in ("since", "until"):
        assert "9999-12-31" in schemas["Recover"]["properties"][name]["description"]


def test_the_error_and_receipt_schemas_are_what_is_answered(client: FlaskClient) -> None:
    schemas = document(client)["components"]["schemas"]
    error = schemas["HarborError"]
    assert error["required"] == ["errors"] and error["properties"]["errors"]["minItems"] == 1
    assert set(schemas["ErrorItem"]["required"]) == {"code", "message"}
    # The receiver answers the event type of each event it published (a list), not a count.
    assert schemas["NotificationReceipt"]["properties"]["published"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": "the event type of each event published to webhook policies",
    }
    status, answer = send(client, replay.deliveries("push_oci_alpine_3.19")[-1])
    assert status == 200 and answer["published"] == ["PUSH_ARTIFACT"]
