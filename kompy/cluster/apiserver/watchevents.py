"""One event of a watch stream, carrying its object either parsed or as the store's JSON.

The store keeps recent changes as JSON text (its watch cache bounds memory that way); an
event made from one is written to the wire as that text, so a watch neither parses nor
re-encodes the objects it passes on. The bytes are those ``json.dumps`` of the parsed
object gives (the store wrote the text the same way).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from kompy.client.objects import Obj


@dataclass(frozen=True)
class WatchEvent:
    type: str                 # ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
    object: Obj | None = None
    text: str | None = None   # the object's JSON, when the event comes from the store

    def as_dict(self) -> Obj:
        """``{"type", "object"}`` with the object parsed (a Table watch needs it)."""
        obj = self.object if self.object is not None else json.loads(self.text or "null")
        return {"type": self.type, "object": obj}

    def encode(self) -> bytes:
        """The event as one JSON line's bytes (without the newline)."""
        if self.text is None:
            return json.dumps(self.as_dict(), separators=(",", ":")).encode()
        return (b'{"type":' + json.dumps(self.type).encode() + b',"object":' +
                self.text.encode() + b"}")
