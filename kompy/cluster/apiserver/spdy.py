"""SPDY/3.1 sessions, the server's side: what kubectl's older streaming protocols run on.

kubectl 1.27-1.29 run exec and attach over an HTTP connection upgraded to SPDY/3.1, and every
kubectl up to 1.33 runs port-forward over SPDY: plain (before 1.31) or tunnelled through a
WebSocket (``SPDY/3.1+portforward.k8s.io``, 1.31+). Python has no maintained SPDY library (the
protocol was retired for HTTP/2 in 2016; Kubernetes' own is moby/spdystream), so this module
implements the part of the SPDY/3.1 draft (https://www.chromium.org/spdy/spdy-protocol/
spdy-protocol-draft3-1/) that spdystream, kubectl's side, uses: the client opens streams
(SYN_STREAM, header blocks compressed with zlib and the draft's dictionary, section 2.6.10.1)
and the server accepts each with a SYN_REPLY; DATA frames with a FIN flag half-close a
stream, RST_STREAM aborts it, PINGs are echoed, GOAWAY ends the session. spdystream does no
flow control, so WINDOW_UPDATE and SETTINGS are read and ignored, as it ignores them.

A :class:`Session` runs over a carrier of bytes (a socket's :class:`wire.RawWire`, or a
WebSocket whose binary messages carry the SPDY bytes) with one reader thread; streams are
read and written from any threads.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import struct
import threading
import zlib
from collections.abc import Callable
from typing import Protocol

from kompy.errors import ClusterError

log = logging.getLogger(__name__)

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = (
    1, 2, 3, 4, 6, 7, 8, 9)
FLAG_FIN = 0x01
RST_PROTOCOL_ERROR, RST_CANCEL = 1, 5
MAX_DATA = (1 << 24) - 1
# A stream's unread data above which the reader waits (spdystream's reader blocks the same
# way when a stream's consumer is slow).
STREAM_HIGH_WATER = 4 << 20


def _dictionary() -> bytes:
    """The header compression dictionary of the SPDY/3 draft (section 2.6.10.1): these
    names as length-prefixed strings, then common values as they are."""
    words = ("options head post put delete trace accept accept-charset accept-encoding "
             "accept-language accept-ranges age allow authorization cache-control connection "
             "content-base content-encoding content-language content-length content-location "
             "content-md5 content-range content-type date etag expect expires from host "
             "if-match if-modified-since if-none-match if-range if-unmodified-since "
             "last-modified location max-forwards pragma proxy-authenticate "
             "proxy-authorization range referer retry-after server te trailer "
             "transfer-encoding upgrade user-agent vary via warning www-authenticate method "
             "get status")
    names = words.split() + ["200 OK", "version", "HTTP/1.1", "url", "public",
                                      "set-cookie", "keep-alive", "origin"]
    codes = "100101201202205206300302303304305306307402405406407408409410411412413414415" \
            "416417502504505"
    tail = (codes + "203 Non-Authoritative Information204 No Content301 Moved Permanently"
            "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server "
            "Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug "
            "Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,"
            "text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,"
            "text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8"
            "charset=iso-8859-1,utf-,*,enq=0.")
    return b"".join(struct.pack(">I", len(n)) + n.encode() for n in names) + tail.encode()


DICTIONARY = _dictionary()


class SpdyError(ClusterError):
    """The peer broke the protocol."""


class Carrier(Protocol):
    """The bytes under a session."""

    def send(self, data: bytes) -> None: ...
    def receive(self, timeout: float | None = None) -> bytes | None: ...
    def close(self) -> None: ...
    def wait_closed(self, timeout: float | None = None) -> bool: ...


def encode_headers(compressor: zlib._Compress, headers: dict[str, str]) -> bytes:
    block = struct.pack(">I", len(headers)) + b"".join(
        struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
        for k, v in ((k.lower(), v) for k, v in headers.items()))
    return compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)


def decode_headers(decompressor: zlib._Decompress, block: bytes) -> dict[str, str]:
    """A header block; a name given twice (or a value list, NUL-separated) keeps its first
    value, which is all the streaming protocols use."""
    try:
        raw = decompressor.decompress(block)
    except zlib.error as error:
        raise SpdyError(f"bad header block: {error}") from None
    headers: dict[str, str] = {}
    count, = struct.unpack_from(">I", raw, 0) if len(raw) >= 4 else (0,)
    pos = 4
    for _ in range(count):
        if pos + 4 > len(raw):
            raise SpdyError("truncated header block")
        size, = struct.unpack_from(">I", raw, pos)
        name = raw[pos + 4:pos + 4 + size].decode("latin-1").lower()
        pos += 4 + size
        if pos + 4 > len(raw):
            raise SpdyError("truncated header block")
        size, = struct.unpack_from(">I", raw, pos)
        value = raw[pos + 4:pos + 4 + size].decode("latin-1").split("\0")[0]
        pos += 4 + size
        headers.setdefault(name, value)
    return headers


def control_frame(kind: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload


def data_frame(stream_id: int, flags: int, data: bytes) -> bytes:
    return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(data)) + data


class Stream:
    """One stream the client opened: its headers, data both ways, half-closes."""

    def __init__(self, session: Session, stream_id: int, headers: dict[str, str]) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self._cond = threading.Condition()
        self._inbox: collections.deque[bytes] = collections.deque()
        self._inbox_bytes = 0
        self._remote_done = False      # FIN, RST or the end of the session
        self._local_done = False       # this end sent FIN or RST

    def read(self) -> bytes | None:
        """The next data; None once the client half-closed the stream (or it is gone)."""
        with self._cond:
            while not self._inbox and not self._remote_done:
                self._cond.wait()
            if not self._inbox:
                return None
            data = self._inbox.popleft()
            self._inbox_bytes -= len(data)
            self._cond.notify_all()
            return data

    def write(self, data: bytes) -> None:
        """Data for the client; OSError once the stream or the session is closed."""
        if self._local_done:
            raise ConnectionResetError("the stream is closed")
        view = memoryview(data)
        for start in range(0, len(view), MAX_DATA):
            self.session.send(data_frame(self.id, 0, bytes(view[start:start + MAX_DATA])))

    def close(self) -> None:
        """Half-close: this end sends no more (an empty DATA frame with FIN)."""
        if self._local_done:
            return
        self._local_done = True
        with contextlib.suppress(OSError):
            self.session.send(data_frame(self.id, FLAG_FIN, b""))
        self._forget()

    def _forget(self) -> None:
        if self._local_done and self._remote_done:
            self.session.streams.pop(self.id, None)

    def reset(self) -> None:
        self._local_done = True
        self._remote_ended()
        with contextlib.suppress(OSError):
            self.session.send(control_frame(RST_STREAM, 0,
                                            struct.pack(">II", self.id, RST_CANCEL)))

    def reset_remote(self) -> None:
        """Stop reading: what the client still sends is dropped."""
        self._remote_ended()

    def _received(self, data: bytes) -> None:
        with self._cond:
            while self._inbox_bytes > STREAM_HIGH_WATER and not self._remote_done:
                self._cond.wait()
            if data and not self._remote_done:
                self._inbox.append(data)
                self._inbox_bytes += len(data)
            self._cond.notify_all()

    def _remote_ended(self) -> None:
        with self._cond:
            self._remote_done = True
            self._cond.notify_all()
        self._forget()


class Session:
    """A SPDY session whose streams the client opens: each is accepted (SYN_REPLY) and
    handed to ``on_stream``, from the reader thread (which must not block on it)."""

    def __init__(self, carrier: Carrier, on_stream: Callable[[Stream], None],
                 name: str = "spdy") -> None:
        self.carrier = carrier
        self.on_stream = on_stream
        self.streams: dict[int, Stream] = {}
        self.ended = threading.Event()
        self._send_lock = threading.Lock()
        self._compressor = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zdict=DICTIONARY)
        self._decompressor = zlib.decompressobj(zdict=DICTIONARY)
        self._buffer = bytearray()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Session:
        self._thread.start()
        return self

    def send(self, frame: bytes) -> None:
        with self._send_lock:
            self._send(frame)

    def _send(self, frame: bytes) -> None:
        try:
            self.carrier.send(frame)
        except (OSError, ClusterError) as error:
            raise ConnectionResetError(f"the SPDY connection is closed: {error}") from error

    def close(self) -> None:
        """End the session: GOAWAY, then the carrier closes once the client is done."""
        with contextlib.suppress(OSError):
            self.send(control_frame(GOAWAY, 0, struct.pack(">II", 0, 0)))
        self.carrier.close()

    def wait(self, timeout: float | None = None) -> bool:
        return self.ended.wait(timeout)

    # -- the reader thread -------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while (data := self.carrier.receive()) is not None:
                self._buffer += data
                while self._next_frame():
                    pass
        except (SpdyError, OSError) as error:
            log.debug("SPDY session failed: %s", error)
            with contextlib.suppress(OSError):
                self.send(control_frame(GOAWAY, 0, struct.pack(">II", 0, 1)))
            self.carrier.close()
        finally:
            for stream in list(self.streams.values()):
                stream._remote_ended()
            self.ended.set()

    def _next_frame(self) -> bool:
        if len(self._buffer) < 8:
            return False
        first, second = struct.unpack_from(">II", self._buffer, 0)
        length = second & 0xFFFFFF
        if len(self._buffer) < 8 + length:
            return False
        flags = second >> 24
        payload = bytes(self._buffer[8:8 + length])
        del self._buffer[:8 + length]
        if first & 0x80000000:
            self._control(first & 0xFFFF, flags, payload)
        else:
            stream = self.streams.get(first & 0x7FFFFFFF)
            if stream is not None:
                stream._received(payload)
                if flags & FLAG_FIN:
                    stream._remote_ended()
        return True

    def _control(self, kind: int, flags: int, payload: bytes) -> None:
        if kind == SYN_STREAM:
            if len(payload) < 10:
                raise SpdyError("short SYN_STREAM frame")
            stream_id = struct.unpack_from(">I", payload, 0)[0] & 0x7FFFFFFF
            headers = decode_headers(self._decompressor, payload[10:])
            stream = Stream(self, stream_id, headers)
            self.streams[stream_id] = stream
            with self._send_lock:   # compressed header blocks leave in compression order
                reply = encode_headers(self._compressor, {})
                self._send(control_frame(SYN_REPLY, 0, struct.pack(">I", stream_id) + reply))
            if flags & FLAG_FIN:
                stream._remote_ended()
            self.on_stream(stream)
        elif kind == RST_STREAM and len(payload) >= 4:
            found = self.streams.get(struct.unpack_from(">I", payload, 0)[0] & 0x7FFFFFFF)
            if found is not None:
                found._local_done = True
                found._remote_ended()
        elif kind == HEADERS and len(payload) >= 4:
            decode_headers(self._decompressor, payload[4:])   # keeps the zlib state in step
            found = self.streams.get(struct.unpack_from(">I", payload, 0)[0] & 0x7FFFFFFF)
            if found is not None and flags & FLAG_FIN:
                found._remote_ended()
        elif kind == PING:
            self.send(control_frame(PING, 0, payload))
        elif kind == GOAWAY:
            self.carrier.close()
        # SETTINGS, WINDOW_UPDATE, SYN_REPLY (a server opens no streams): nothing to do.
