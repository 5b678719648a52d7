"""Protocol buffers, through Google's protobuf runtime (the one module that imports it).

Two uses, each with its messages declared here by field number (no generated code):

* ``/openapi/v2`` in gnostic's ``openapi.v2.Document`` (openapi_proto.py declares it);
* request bodies that client-go 1.33+ typed clients send as
  ``application/vnd.kubernetes.protobuf`` whatever the server says: kubectl's ``auth
  can-i`` and ``auth whoami``. Kubernetes wraps them in its envelope: the magic bytes
  ``k8s\\x00``, then a ``runtime.Unknown`` (typeMeta, raw, contentEncoding, contentType)
  whose ``raw`` is the object's message (k8s.io/apimachinery/pkg/runtime/types_proto.go).
  Only the kinds listed in ``KINDS`` are decoded, into the JSON form the handlers take;
  anything else stays a 415, as before.
  https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError, Message

_F = descriptor_pb2.FieldDescriptorProto
STRING, BOOL, BYTES = _F.TYPE_STRING, _F.TYPE_BOOL, _F.TYPE_BYTES
# A table of messages: name -> [(field, number, scalar type or message name, repeated)].
Table = dict[str, list[tuple[str, int, Any, bool]]]
MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"


def message_classes(package: str, table: Table, syntax: str = "proto3"
                    ) -> dict[str, type[Message]]:
    """Message classes for a table of declarations (one descriptor pool per table)."""
    proto = descriptor_pb2.FileDescriptorProto(name=f"kompy/{package}.proto", package=package,
                                               syntax=syntax)
    for name, fields in table.items():
        message = proto.message_type.add(name=name)
        for field_name, number, kind, repeated in fields:
            one = message.field.add(name=field_name, number=number, json_name=field_name,
                                    label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
            if isinstance(kind, str):
                one.type = _F.TYPE_MESSAGE
                one.type_name = f".{package}.{kind}"
            else:
                one.type = kind
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(
        f"{package}.{name}")) for name in table}


# -- Kubernetes' envelope and the kinds decoded --------------------------------------------------

# Field names are the JSON names, so MessageToDict gives the object kubectl meant. Metadata
# is skipped (bytes): a review's metadata carries nothing the server reads.
_KUBE: Table = {
    "Unknown": [("typeMeta", 1, "TypeMeta", False), ("raw", 2, BYTES, False),
                ("contentEncoding", 3, STRING, False), ("contentType", 4, STRING, False)],
    "TypeMeta": [("apiVersion", 1, STRING, False), ("kind", 2, STRING, False)],
    "SelfSubjectAccessReview": [("metadata", 1, BYTES, False),
                                ("spec", 2, "SelfSubjectAccessReviewSpec", False)],
    "SelfSubjectAccessReviewSpec": [("resourceAttributes", 1, "ResourceAttributes", False),
                                    ("nonResourceAttributes", 2, "NonResourceAttributes",
                                     False)],
    "ResourceAttributes": [("namespace", 1, STRING, False), ("verb", 2, STRING, False),
                           ("group", 3, STRING, False), ("version", 4, STRING, False),
                           ("resource", 5, STRING, False), ("subresource", 6, STRING, False),
                           ("name", 7, STRING, False)],
    "NonResourceAttributes": [("path", 1, STRING, False), ("verb", 2, STRING, False)],
    "SelfSubjectRulesReview": [("metadata", 1, BYTES, False),
                               ("spec", 2, "SelfSubjectRulesReviewSpec", False)],
    "SelfSubjectRulesReviewSpec": [("namespace", 1, STRING, False)],
    "SelfSubjectReview": [("metadata", 1, BYTES, False)],
}
KINDS = ("SelfSubjectAccessReview", "SelfSubjectRulesReview", "SelfSubjectReview")
_classes: dict[str, type[Message]] = {}


class NotDecodable(ValueError):
    """A protobuf body this server does not read (another kind, or not the envelope)."""


def decode_kube(raw: bytes) -> dict[str, Any]:
    """A Kubernetes protobuf body as the JSON object it stands for."""
    if not _classes:
        _classes.update(message_classes("kompy.k8s", _KUBE, syntax="proto2"))
    if not raw.startswith(MAGIC):
        raise NotDecodable("the body does not start with Kubernetes' protobuf magic bytes")
    try:
        unknown = _classes["Unknown"].FromString(raw[len(MAGIC):])
        kind = unknown.typeMeta.kind
        if kind not in KINDS:
            raise NotDecodable(f"{kind or 'this kind'} is not accepted as protobuf")
        obj = _classes[kind].FromString(unknown.raw)
    except DecodeError as error:
        raise NotDecodable(f"the protobuf body does not decode: {error}") from None
    out: dict[str, Any] = MessageToDict(obj, preserving_proto_field_name=True)
    out.pop("metadata", None)
    out["kind"] = kind
    out["apiVersion"] = unknown.typeMeta.apiVersion
    return out
