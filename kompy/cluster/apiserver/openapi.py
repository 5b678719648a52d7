"""The OpenAPI documents of the served kinds: ``/openapi/v2`` and ``/openapi/v3``.

Both come from the schema registry (schemas.py), so what the server validates against and
what it publishes are the same definitions. The registry holds them as the
kubernetes-validate package ships them, rewritten as JSON Schema (nullable types as
``["string", "null"]``, ``$ref`` into ``#/$defs``, ``additionalProperties: false``, enums on
``apiVersion`` and ``kind``); this module turns them back into OpenAPI as kube-apiserver
publishes it: Swagger 2.0 definitions under ``#/definitions/``, and for v3
``#/components/schemas/`` with a ``$ref`` that has siblings wrapped in ``allOf``. The
extensions clients rely on are kept: ``x-kubernetes-group-version-kind`` (kubectl finds a
kind's schema by it), ``x-kubernetes-patch-merge-key``/``-patch-strategy`` (strategic merge
patches), ``x-kubernetes-list-type``/``-list-map-keys``/``-map-type`` (server-side apply).

Paths carry each kind's operations with their query parameters, so kubectl's check "does
PATCH of this kind take ``fieldValidation``?" (cli-runtime's QueryParamVerifier, V3 then V2)
answers yes and kubectl leaves validation to the server.
https://kubernetes.io/docs/concepts/overview/kubernetes-api/#openapi-interface-definition
"""

from __future__ import annotations

import email.utils
import functools
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from kompy.client import resources
from kompy.client.resources import Resource
from kompy.cluster.apiserver.schemas import SchemaRegistry

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
STATUS = f"{META}.Status"
PATCH = f"{META}.Patch"
DELETE_OPTIONS = f"{META}.DeleteOptions"
SCALE = "io.k8s.api.autoscaling.v1.Scale"
# Definitions every document carries besides the kinds' own (errors, deletes, watches).
COMMON = (STATUS, PATCH, DELETE_OPTIONS, f"{META}.WatchEvent", f"{META}.APIResourceList")
PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")
# JSON Schema cannot say "int or string" with a format; kube-openapi publishes these so.
SPECIAL = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "description": "IntOrString is a type that can hold an int32 or a string.  When used "
                       "in JSON or YAML marshalling and unmarshalling, it produces or "
                       "consumes the inner type.  This allows you to have, for example, a "
                       "JSON field that can accept a name or number.",
        "type": "string", "format": "int-or-string"},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "description": "Quantity is a fixed-point representation of a number. It provides "
                       "convenient marshaling/unmarshaling in JSON and YAML, in addition to "
                       "String() and AsInt64() accessors.\n\nThe serialization format is:\n\n"
                       "``` <quantity>        ::= <signedNumber><suffix>\n```\n\n"
                       "(Note that <suffix> may be empty, from the \"\" case in "
                       "<decimalSI>.)",
        "type": "string"},
}
_PARAMETERS = {
    "name": ("path", "name of the {kind}"),
    "namespace": ("path", "object name and auth scope, such as for teams and projects"),
    "pretty": ("query", "If 'true', then the output is pretty printed."),
    "dryRun": ("query", "When present, indicates that modifications should not be persisted. "
                        "An invalid or unrecognized dryRun directive will result in an error "
                        "response and no further processing of the request. Valid values "
                        "are: - All: all dry run stages will be processed"),
    "fieldManager": ("query", "fieldManager is a name associated with the actor or entity "
                              "that is making these changes."),
    "fieldValidation": ("query", "fieldValidation instructs the server on how to handle "
                                 "objects in the request (POST/PUT/PATCH) containing unknown "
                                 "or duplicate fields. Valid values are: - Ignore - Warn - "
                                 "Strict"),
    "force": ("query", "Force is going to \"force\" Apply requests. It means user will "
                       "re-acquire conflicting fields owned by other people."),
    "gracePeriodSeconds": ("query", "The duration in seconds before the object should be "
                                    "deleted."),
    "propagationPolicy": ("query", "Whether and how garbage collection will be performed."),
    "labelSelector": ("query", "A selector to restrict the list of returned objects by "
                               "their labels."),
    "fieldSelector": ("query", "A selector to restrict the list of returned objects by "
                               "their fields."),
    "resourceVersion": ("query", "resourceVersion sets a constraint on what resource "
                                 "versions a request may be served from."),
    "timeoutSeconds": ("query", "Timeout for the list/watch call."),
    "watch": ("query", "Watch for changes to the described resources and return them as a "
                       "stream of add, update, and remove notifications."),
    "allowWatchBookmarks": ("query", "allowWatchBookmarks requests watch events with type "
                                     "\"BOOKMARK\"."),
}
_PARAMETER_TYPES = {"force": "boolean", "watch": "boolean", "allowWatchBookmarks": "boolean",
                    "gracePeriodSeconds": "integer", "timeoutSeconds": "integer"}
_WRITE = ("dryRun", "fieldManager", "fieldValidation")


@dataclass
class Operation:
    """One operation, neutral between the v2 and v3 documents."""

    method: str
    action: str                  # x-kubernetes-action: get, list, create, put, patch, delete
    operation_id: str
    description: str
    response: str                # definition name
    query: tuple[str, ...] = ()
    body: str | None = None      # definition name of the request body
    consumes: tuple[str, ...] = ("*/*",)
    gvk: Resource | None = None
    tag: str = ""


@dataclass
class PathSpec:
    path: str
    parameters: tuple[str, ...]  # path-level: name, namespace, pretty
    operations: list[Operation] = field(default_factory=list)


# -- schemas -----------------------------------------------------------------------------------

def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def convert_schema(schema: dict[str, Any], v3: bool, kind_props: bool = False
                   ) -> dict[str, Any]:
    """One registry schema as kube-apiserver publishes it (``kind_props``: the properties of a
    top-level kind, whose ``apiVersion`` and ``kind`` enums the registry added)."""
    prefix = "#/components/schemas/" if v3 else "#/definitions/"
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref":
            out["$ref"] = prefix + _ref_name(str(value))
        elif key == "type":
            types = [t for t in (value if isinstance(value, list) else [value]) if t != "null"]
            if len(types) == 1:
                out["type"] = types[0]
        elif key == "additionalProperties":
            if isinstance(value, dict):
                out[key] = convert_schema(value, v3)
        elif key == "properties":
            out[key] = {}
            for name, sub in value.items():
                converted = convert_schema(sub, v3)
                if kind_props and name in ("apiVersion", "kind"):
                    converted.pop("enum", None)
                out[key][name] = converted
        elif key == "items" and isinstance(value, dict):
            out[key] = convert_schema(value, v3)
        elif key == "oneOf":
            continue   # only IntOrString and Quantity, published by SPECIAL; and CRD schemas
        else:
            out[key] = value
    if v3 and "$ref" in out and len(out) > 1:
        out["allOf"] = [{"$ref": out.pop("$ref")}]
    return out


def _refs(schema: Any, found: set[str]) -> None:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref":
                found.add(_ref_name(str(value)))
            elif key not in ("enum", "x-kubernetes-group-version-kind", "default"):
                _refs(value, found)
    elif isinstance(schema, list):
        for item in schema:
            _refs(item, found)


def closure(definitions: dict[str, Any], roots: list[str]) -> list[str]:
    """The definitions ``roots`` refer to, directly or not (roots included), sorted."""
    seen: set[str] = set()
    todo = [r for r in roots if r in definitions]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found: set[str] = set()
        _refs(definitions[name], found)
        todo.extend(n for n in found if n in definitions and n not in seen)
    return sorted(seen)


def _definition(name: str, definitions: dict[str, Any], v3: bool) -> dict[str, Any]:
    if name in SPECIAL:
        return dict(SPECIAL[name])
    schema = definitions[name]
    return convert_schema(schema, v3, "x-kubernetes-group-version-kind" in schema)


# -- paths -------------------------------------------------------------------------------------

def _camel(text: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in text.replace("-", ".").split(".") if p)


def _op_prefix(res: Resource) -> str:
    group = res.group.split(".", 1)[0] if res.group else "core"
    return _camel(group) + _camel(res.version)


def _tag(res: Resource) -> str:
    return f"{res.group.split('.', 1)[0] if res.group else 'core'}_{res.version}"


def path_specs(res: Resource, registry: SchemaRegistry) -> list[PathSpec]:
    """kube-apiserver's paths for one resource: the collection, the object, its
    subresources, and the list across namespaces."""
    definition = registry.definition_name(res)
    if definition is None:
        return []
    list_definition = registry.list_definition_name(res) or definition
    prefix, kind = _op_prefix(res), res.kind
    scope = "Namespaced" if res.namespaced else ""
    base = res.path("{namespace}" if res.namespaced else None)
    scoped = ("namespace",) if res.namespaced else ()

    def op(method: str, action: str, verb: str, what: str, response: str,
           query: tuple[str, ...] = (), body: str | None = None,
           consumes: tuple[str, ...] = ("*/*",), sub: str = "") -> Operation:
        return Operation(method, action, f"{verb}{prefix}{scope}{kind}{sub}",
                         f"{what} {kind}", response, query, body, consumes, res, _tag(res))

    lists = ("labelSelector", "fieldSelector", "resourceVersion", "timeoutSeconds", "watch",
             "allowWatchBookmarks")
    collection = PathSpec(base, (*scoped, "pretty"), [
        op("get", "list", "list", "list or watch objects of kind", list_definition, lists),
        op("post", "post", "create", "create a", definition, _WRITE, definition)])
    item = PathSpec(f"{base}/{{name}}", ("name", *scoped, "pretty"), [
        op("get", "get", "read", "read the specified", definition),
        op("put", "put", "replace", "replace the specified", definition, _WRITE, definition),
        op("patch", "patch", "patch", "partially update the specified", definition,
           (*_WRITE, "force"), PATCH, PATCH_TYPES),
        op("delete", "delete", "delete", "delete a", STATUS,
           ("dryRun", "gracePeriodSeconds", "propagationPolicy"), DELETE_OPTIONS)])
    specs = [collection, item]
    if res.has_status:
        specs.append(PathSpec(f"{base}/{{name}}/status", ("name", *scoped, "pretty"), [
            op("get", "get", "read", "read status of the specified", definition, sub="Status"),
            op("put", "put", "replace", "replace status of the specified", definition, _WRITE,
               definition, sub="Status"),
            op("patch", "patch", "patch", "partially update status of the specified",
               definition, (*_WRITE, "force"), PATCH, PATCH_TYPES, sub="Status")]))
    if res.kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        scale = [op("get", "get", "read", "read scale of the specified", SCALE, sub="Scale"),
                 op("put", "put", "replace", "replace scale of the specified", SCALE, _WRITE,
                    SCALE, sub="Scale"),
                 op("patch", "patch", "patch", "partially update scale of the specified",
                    SCALE, (*_WRITE, "force"), PATCH, PATCH_TYPES, sub="Scale")]
        for one in scale:
            one.gvk = None   # the Scale's own kind, autoscaling/v1
        specs.append(PathSpec(f"{base}/{{name}}/scale", ("name", *scoped, "pretty"), scale))
    if res.namespaced:
        everywhere = op("get", "list", "list", "list or watch objects of kind",
                        list_definition, lists)
        everywhere.operation_id = f"list{prefix}{kind}ForAllNamespaces"
        specs.append(PathSpec(res.path(), ("pretty",), [everywhere]))
    return specs


def _gvk(op: Operation) -> dict[str, str]:
    if op.gvk is None:
        return {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    return {"group": op.gvk.group, "version": op.gvk.version, "kind": op.gvk.kind}


def _v2_parameter(name: str, kind: str) -> dict[str, Any]:
    where, description = _PARAMETERS[name]
    out: dict[str, Any] = {"name": name, "in": where,
                           "description": description.format(kind=kind),
                           "type": _PARAMETER_TYPES.get(name, "string")}
    if where == "path":
        out["required"] = True
    out["uniqueItems"] = True
    return out


def _v3_parameter(name: str, kind: str) -> dict[str, Any]:
    where, description = _PARAMETERS[name]
    out: dict[str, Any] = {"name": name, "in": where,
                           "description": description.format(kind=kind),
                           "schema": {"type": _PARAMETER_TYPES.get(name, "string"),
                                      "uniqueItems": True}}
    if where == "path":
        out["required"] = True
    return out


def v2_path(spec: PathSpec, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"parameters": [_v2_parameter(p, kind) for p in spec.parameters]}
    for op in spec.operations:
        params = [_v2_parameter(q, kind) for q in op.query]
        if op.body:
            params.insert(0, {"name": "body", "in": "body", "required": op.body != DELETE_OPTIONS,
                              "schema": {"$ref": f"#/definitions/{op.body}"}})
        out[op.method] = {
            "description": op.description, "consumes": list(op.consumes),
            "produces": ["application/json", "application/yaml"], "schemes": ["https"],
            "tags": [op.tag], "operationId": op.operation_id, "parameters": params,
            "responses": {"200": {"description": "OK",
                                  "schema": {"$ref": f"#/definitions/{op.response}"}},
                          "401": {"description": "Unauthorized"}},
            "x-kubernetes-action": op.action, "x-kubernetes-group-version-kind": _gvk(op)}
    return out


def v3_path(spec: PathSpec, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"parameters": [_v3_parameter(p, kind) for p in spec.parameters]}
    for op in spec.operations:
        ref = {"schema": {"$ref": f"#/components/schemas/{op.response}"}}
        one: dict[str, Any] = {
            "tags": [op.tag], "description": op.description, "operationId": op.operation_id,
            "parameters": [_v3_parameter(q, kind) for q in op.query],
            "responses": {"200": {"description": "OK", "content": {
                "application/json": ref, "application/yaml": ref}},
                "401": {"description": "Unauthorized"}},
            "x-kubernetes-action": op.action, "x-kubernetes-group-version-kind": _gvk(op)}
        if op.body:
            body = {"schema": {"$ref": f"#/components/schemas/{op.body}"}}
            types = op.consumes if op.consumes != ("*/*",) else ("*/*",)
            one["requestBody"] = {"content": {t: body for t in types},
                                  "required": op.body != DELETE_OPTIONS}
        out[op.method] = one
    return out


# -- the documents -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Document:
    """A serialized document and its ETag (kube-openapi's: the SHA-512 in upper-case hex)."""

    body: bytes
    etag: str


def _document(content: dict[str, Any]) -> Document:
    body = json.dumps(content, separators=(",", ":"), sort_keys=True).encode()
    return Document(body, hashlib.sha512(body).hexdigest().upper())


def _served(registry: SchemaRegistry) -> list[Resource]:
    return [r for r in resources.RESOURCES if registry.definition_name(r)]


def _roots(registry: SchemaRegistry, served: list[Resource]) -> list[str]:
    roots = list(COMMON)
    for res in served:
        roots.append(str(registry.definition_name(res)))
        listed = registry.list_definition_name(res)
        if listed:
            roots.append(listed)
        if res.kind in ("Deployment", "ReplicaSet", "StatefulSet"):
            roots.append(SCALE)
    return roots


class OpenAPI:
    """The documents of one registry, built once on first use (thread-safe via cache)."""

    def __init__(self, registry: SchemaRegistry, title: str, version: str) -> None:
        self.registry = registry
        self.title = title
        self.version = version

    @functools.cached_property
    def v2_content(self) -> dict[str, Any]:
        registry = self.registry
        definitions = registry.definitions()
        served = _served(registry)
        paths: dict[str, Any] = {}
        for res in served:
            for spec in path_specs(res, registry):
                paths[spec.path] = v2_path(spec, res.kind)
        return {"swagger": "2.0", "info": {"title": self.title, "version": self.version},
                "paths": dict(sorted(paths.items())),
                "definitions": {name: _definition(name, definitions, False)
                                for name in closure(definitions, _roots(registry, served))}}

    @functools.cached_property
    def v2(self) -> Document:
        return _document(self.v2_content)

    @functools.cached_property
    def v2_protobuf(self) -> bytes:
        from kompy.cluster.apiserver import openapi_proto  # protobuf: only when asked for
        return openapi_proto.encode_v2(self.v2_content)

    @functools.cached_property
    def v3_groups(self) -> dict[str, Document]:
        """``api/v1``, ``apis/apps/v1``... -> that group version's document."""
        registry = self.registry
        definitions = registry.definitions()
        served = _served(registry)
        out: dict[str, Document] = {}
        for gv in sorted({r.group_version for r in served}):
            members = [r for r in served if r.group_version == gv]
            paths: dict[str, Any] = {}
            for res in members:
                for spec in path_specs(res, registry):
                    paths[spec.path] = v3_path(spec, res.kind)
            names = closure(definitions, _roots(registry, members))
            key = f"apis/{gv}" if "/" in gv else f"api/{gv}"
            out[key] = _document({
                "openapi": "3.0.0", "info": {"title": self.title, "version": self.version},
                "paths": dict(sorted(paths.items())),
                "components": {"schemas": {n: _definition(n, definitions, True)
                                           for n in names}}})
        return out

    def v3_index(self) -> Document:
        return _document({"paths": {
            key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={doc.etag}"}
            for key, doc in self.v3_groups.items()}})


# -- serving -----------------------------------------------------------------------------------

# What client-go asks for; kube-openapi answers with the other spelling (an ``@`` is not
# allowed in a media type, and Go's mime parser refuses it in a Content-Type).
V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_V2_PROTOBUF_ALIASES = (V2_PROTOBUF, "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")


@dataclass(frozen=True)
class Answer:
    """What the HTTP front sends: status, body, content type, headers."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def _accepts(accept: str | None) -> list[str]:
    """The media types of an Accept header, in the order given (q-values are not weighed:
    clients send one type, or a preference list in order)."""
    if not accept:
        return ["*/*"]
    return [part.split(";", 1)[0].strip().lower() for part in accept.split(",") if part.strip()]


def _not_acceptable(accept: str | None) -> Answer:
    return Answer(406, json.dumps({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f"only application/json and {V2_PROTOBUF} are served, not {accept}",
        "reason": "NotAcceptable", "code": 406}).encode())


def _content(doc_body: bytes, etag: str, content_type: str, if_none_match: str | None,
             extra: dict[str, str] | None = None) -> Answer:
    headers = {"Etag": f'"{etag}"', "Vary": "Accept", **(extra or {})}
    if if_none_match and etag in if_none_match:
        return Answer(304, b"", content_type, headers)
    return Answer(200, doc_body, content_type, headers)


def serve(documents: OpenAPI, path: str, query: dict[str, str], accept: str | None,
          if_none_match: str | None) -> Answer | None:
    """The answer to ``/openapi/...``, as kube-openapi's handlers give it; None for a path
    that is not one of its documents. v3 documents named with the ``hash`` of their
    current content are immutable (cached for a year); an outdated hash is redirected
    (301) to the current one."""
    wanted = _accepts(accept)
    if path == "/openapi/v2":
        for media in wanted:
            if media in _V2_PROTOBUF_ALIASES:
                body = documents.v2_protobuf
                return _content(body, hashlib.sha512(body).hexdigest().upper(), V2_PROTOBUF,
                                if_none_match)
            if media in ("application/json", "application/*", "*/*"):
                return _content(documents.v2.body, documents.v2.etag, "application/json",
                                if_none_match)
        return _not_acceptable(accept)
    if not path.startswith("/openapi/v3"):
        return None
    if not any(m in ("application/json", "application/*", "*/*") for m in wanted):
        return _not_acceptable(accept)
    if path == "/openapi/v3":
        index = documents.v3_index()
        return _content(index.body, index.etag, "application/json", if_none_match)
    key = path[len("/openapi/v3/"):]
    doc = documents.v3_groups.get(key)
    if doc is None:
        return None
    given = query.get("hash")
    if given and given != doc.etag:
        return Answer(301, b"", "application/json",
                      {"Location": f"/openapi/v3/{key}?hash={doc.etag}"})
    extra = {}
    if given:
        extra = {"Cache-Control": "public, immutable",
                 "Expires": email.utils.formatdate(time.time() + 365 * 86400, usegmt=True)}
    return _content(doc.body, doc.etag, "application/json", if_none_match, extra)
