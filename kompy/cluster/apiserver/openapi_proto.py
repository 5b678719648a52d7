"""``/openapi/v2`` as protocol buffers: the only form kubectl asks for.

client-go's discovery client fetches OpenAPI v2 with ``Accept:
application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and no JSON fallback; kubectl
uses it for client-side validation (``--validate=strict`` on a kind the server does not
serve, a ``v1/List``), for ``explain --output plaintext-openapiv2``, and 1.27 for its
fieldValidation check. The message layout is gnostic's ``openapi.v2.Document``
(github.com/google/gnostic-models, package ``openapi.v2``); the part a Kubernetes document
uses is declared here with gnostic's field numbers and encoded by the protobuf library
(protobuf.py).
Maps are repeated ``Named*`` pairs, vendor extensions ``NamedAny`` whose value is YAML text
(JSON is YAML), ``$ref`` is ``_ref``.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from kompy.cluster.apiserver.protobuf import BOOL, STRING, Table, message_classes

# message -> (field, number, type or message name, repeated?)
MESSAGES: Table = {
    "Document": [("swagger", 1, STRING, False), ("info", 2, "Info", False),
                 ("paths", 8, "Paths", False), ("definitions", 9, "Definitions", False)],
    "Info": [("title", 1, STRING, False), ("version", 2, STRING, False)],
    "Paths": [("vendor_extension", 1, "NamedAny", True), ("path", 2, "NamedPathItem", True)],
    "NamedPathItem": [("name", 1, STRING, False), ("value", 2, "PathItem", False)],
    "PathItem": [("_ref", 1, STRING, False), ("get", 2, "Operation", False),
                 ("put", 3, "Operation", False), ("post", 4, "Operation", False),
                 ("delete", 5, "Operation", False), ("patch", 8, "Operation", False),
                 ("parameters", 9, "ParametersItem", True),
                 ("vendor_extension", 10, "NamedAny", True)],
    "Operation": [("tags", 1, STRING, True), ("description", 3, STRING, False),
                  ("operation_id", 5, STRING, False), ("produces", 6, STRING, True),
                  ("consumes", 7, STRING, True), ("parameters", 8, "ParametersItem", True),
                  ("responses", 9, "Responses", False), ("schemes", 10, STRING, True),
                  ("vendor_extension", 13, "NamedAny", True)],
    "ParametersItem": [("parameter", 1, "Parameter", False)],
    "Parameter": [("body_parameter", 1, "BodyParameter", False),
                  ("non_body_parameter", 2, "NonBodyParameter", False)],
    "BodyParameter": [("description", 1, STRING, False), ("name", 2, STRING, False),
                      ("in", 3, STRING, False), ("required", 4, BOOL, False),
                      ("schema", 5, "Schema", False)],
    "NonBodyParameter": [("query_parameter_sub_schema", 3, "QueryParameterSubSchema", False),
                         ("path_parameter_sub_schema", 4, "PathParameterSubSchema", False)],
    "QueryParameterSubSchema": [("required", 1, BOOL, False), ("in", 2, STRING, False),
                                ("description", 3, STRING, False), ("name", 4, STRING, False),
                                ("type", 6, STRING, False), ("unique_items", 20, BOOL, False)],
    "PathParameterSubSchema": [("required", 1, BOOL, False), ("in", 2, STRING, False),
                               ("description", 3, STRING, False), ("name", 4, STRING, False),
                               ("type", 5, STRING, False), ("unique_items", 19, BOOL, False)],
    "Responses": [("response_code", 1, "NamedResponseValue", True)],
    "NamedResponseValue": [("name", 1, STRING, False), ("value", 2, "ResponseValue", False)],
    "ResponseValue": [("response", 1, "Response", False)],
    "Response": [("description", 1, STRING, False), ("schema", 2, "SchemaItem", False)],
    "SchemaItem": [("schema", 1, "Schema", False)],
    "Definitions": [("additional_properties", 1, "NamedSchema", True)],
    "NamedSchema": [("name", 1, STRING, False), ("value", 2, "Schema", False)],
    "Schema": [("_ref", 1, STRING, False), ("format", 2, STRING, False),
               ("title", 3, STRING, False), ("description", 4, STRING, False),
               ("default", 5, "Any", False), ("required", 19, STRING, True),
               ("enum", 20, "Any", True),
               ("additional_properties", 21, "AdditionalPropertiesItem", False),
               ("type", 22, "TypeItem", False), ("items", 23, "ItemsItem", False),
               ("properties", 25, "Properties", False),
               ("vendor_extension", 31, "NamedAny", True)],
    "AdditionalPropertiesItem": [("schema", 1, "Schema", False), ("boolean", 2, BOOL, False)],
    "TypeItem": [("value", 1, STRING, True)],
    "ItemsItem": [("schema", 1, "Schema", True)],
    "Properties": [("additional_properties", 1, "NamedSchema", True)],
    "NamedAny": [("name", 1, STRING, False), ("value", 2, "Any", False)],
    "Any": [("yaml", 2, STRING, False)],
}
PACKAGE = "openapi.v2"


@functools.cache
def _classes() -> dict[str, Any]:
    return message_classes(PACKAGE, MESSAGES)


def _any(value: Any) -> Any:
    return _classes()["Any"](yaml=json.dumps(value, separators=(",", ":"), sort_keys=True))


def _extensions(target: Any, source: dict[str, Any]) -> None:
    for key, value in source.items():
        if key.startswith("x-"):
            target.vendor_extension.add(name=key, value=_any(value))


def _schema(source: dict[str, Any]) -> Any:
    out = _classes()["Schema"]()
    for key, value in source.items():
        if key == "$ref":
            out._ref = value
        elif key in ("format", "title", "description"):
            setattr(out, key, value)
        elif key == "default":
            out.default.CopyFrom(_any(value))
        elif key == "required":
            out.required.extend(value)
        elif key == "enum":
            out.enum.extend(_any(v) for v in value)
        elif key == "type":
            out.type.value.append(value)
        elif key == "items":
            out.items.schema.append(_schema(value))
        elif key == "additionalProperties":
            if isinstance(value, dict):
                out.additional_properties.schema.CopyFrom(_schema(value))
            else:
                out.additional_properties.boolean = bool(value)
        elif key == "properties":
            for name, sub in value.items():
                out.properties.additional_properties.add(name=name, value=_schema(sub))
    _extensions(out, source)
    return out


def _parameter(source: dict[str, Any]) -> Any:
    item = _classes()["ParametersItem"]()
    where = source.get("in")
    if where == "body":
        body = item.parameter.body_parameter
        body.name, body.required = source["name"], bool(source.get("required"))
        setattr(body, "in", "body")
        body.schema.CopyFrom(_schema(source["schema"]))
        return item
    sub = (item.parameter.non_body_parameter.path_parameter_sub_schema if where == "path"
           else item.parameter.non_body_parameter.query_parameter_sub_schema)
    sub.name, sub.description = source["name"], source.get("description", "")
    setattr(sub, "in", str(where))
    sub.type = source.get("type", "string")
    sub.required = bool(source.get("required"))
    sub.unique_items = bool(source.get("uniqueItems"))
    return item


def _operation(source: dict[str, Any]) -> Any:
    out = _classes()["Operation"]()
    out.tags.extend(source.get("tags", []))
    out.description = source.get("description", "")
    out.operation_id = source.get("operationId", "")
    out.produces.extend(source.get("produces", []))
    out.consumes.extend(source.get("consumes", []))
    out.schemes.extend(source.get("schemes", []))
    for parameter in source.get("parameters", []):
        out.parameters.append(_parameter(parameter))
    for code, response in source.get("responses", {}).items():
        named = out.responses.response_code.add(name=code)
        named.value.response.description = response.get("description", "")
        if "schema" in response:
            named.value.response.schema.schema.CopyFrom(_schema(response["schema"]))
    _extensions(out, source)
    return out


def encode_v2(document: dict[str, Any]) -> bytes:
    """The Swagger 2.0 document (as openapi.py builds it) in gnostic's wire format."""
    out = _classes()["Document"]()
    out.swagger = document["swagger"]
    out.info.title = document["info"]["title"]
    out.info.version = document["info"]["version"]
    for path, item in document.get("paths", {}).items():
        named = out.paths.path.add(name=path)
        for parameter in item.get("parameters", []):
            named.value.parameters.append(_parameter(parameter))
        for method in ("get", "put", "post", "delete", "patch"):
            if method in item:
                getattr(named.value, method).CopyFrom(_operation(item[method]))
    for name, schema in document.get("definitions", {}).items():
        out.definitions.additional_properties.add(name=name, value=_schema(schema))
    return bytes(out.SerializeToString(deterministic=True))
