"""Protocol buffers, through Google's protobuf runtime (the one module that imports it).

Two uses, each with its messages declared here by field number (no generated code):

* ``/openapi/v2`` in gnostic's ``openapi.v2.Document`` (openapi_proto.py declares it);
* request bodies that client-go 1.33+ typed clients send as
  ``application/vnd.kubernetes.protobuf`` (kubeproto.py declares those messages).
  https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError, Message
from google.protobuf.unknown_fields import UnknownFieldSet

FIELD = descriptor_pb2.FieldDescriptorProto
STRING, BOOL, BYTES = FIELD.TYPE_STRING, FIELD.TYPE_BOOL, FIELD.TYPE_BYTES
# A table of messages: name -> [(field, number, scalar type or message name, repeated)].
Table = dict[str, list[tuple[str, int, Any, bool]]]


def message_classes(package: str, table: Table, syntax: str = "proto3"
                    ) -> dict[str, type[Message]]:
    """Message classes for a table of declarations (one descriptor pool per table)."""
    proto = descriptor_pb2.FileDescriptorProto(name=f"kompy/{package}.proto", package=package,
                                               syntax=syntax)
    for name, fields in table.items():
        message = proto.message_type.add(name=name)
        for field_name, number, kind, repeated in fields:
            one = message.field.add(name=field_name, number=number, json_name=field_name,
                                    label=(FIELD.LABEL_REPEATED if repeated
                                           else FIELD.LABEL_OPTIONAL))
            if isinstance(kind, str):
                one.type = FIELD.TYPE_MESSAGE
                one.type_name = f".{package}.{kind}"
            else:
                one.type = kind
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(
        f"{package}.{name}")) for name in table}


class NotDecodable(ValueError):
    """A protobuf body this server does not read (another kind, or not the envelope)."""


def parse(message_class: type[Message], data: bytes) -> Any:
    """``data`` as a ``message_class``; NotDecodable when it is not one."""
    try:
        return message_class.FromString(data)
    except DecodeError as error:
        raise NotDecodable(f"the protobuf body does not decode: {error}") from None


def unknown_fields(message: Any) -> list[tuple[int, Any]]:
    """(field number, value) of what a parsed message did not declare."""
    return [(field.field_number, field.data) for field in UnknownFieldSet(message)]


def to_dict(message: Any) -> dict[str, Any]:
    """A message as JSON, with the declared field names."""
    out: dict[str, Any] = MessageToDict(message, preserving_proto_field_name=True)
    return out
