"""The SPDY/3.1 server side (what kubectl's port-forward and older exec run on), driven by a
client made of the same frame helpers over a local socket pair. kubectl itself talks to it
in tests/integration/cluster/test_kubectl_streams.py."""

from __future__ import annotations

import socket
import struct
import zlib
from collections.abc import Iterator

import pytest
from netkit import echo_server

from kompy.client.wire import RawWire
from kompy.cluster.apiserver import spdy, spdystreams


def test_header_blocks_round_trip_through_one_compression_context() -> None:
    compressor = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zdict=spdy.DICTIONARY)
    decompressor = zlib.decompressobj(zdict=spdy.DICTIONARY)
    for headers in ({"streamtype": "data", "port": "80", "requestid": "0"},
                    {"StreamType": "error", "port": "80"}, {}):
        block = spdy.encode_headers(compressor, headers)
        assert spdy.decode_headers(decompressor, block) == {k.lower(): v
                                                            for k, v in headers.items()}
    # The draft's dictionary: 1423 bytes, starting with the length-prefixed "options".
    assert len(spdy.DICTIONARY) == 1423 and spdy.DICTIONARY[:11] == b"\0\0\0\x07options"
    assert spdy.DICTIONARY.endswith(b"enq=0.")


class Client:
    """kubectl's side of a session, frame by frame."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.compressor = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zdict=spdy.DICTIONARY)
        self.decompressor = zlib.decompressobj(zdict=spdy.DICTIONARY)
        self.buffer = b""

    def open(self, stream_id: int, headers: dict[str, str], fin: bool = False) -> None:
        block = spdy.encode_headers(self.compressor, headers)
        self.sock.sendall(spdy.control_frame(spdy.SYN_STREAM, spdy.FLAG_FIN if fin else 0,
                                             struct.pack(">IIBB", stream_id, 0, 0, 0) + block))

    def frames(self) -> Iterator[tuple[bool, int, int, bytes]]:
        """(control, type or stream id, flags, payload) as they come."""
        while True:
            while len(self.buffer) < 8 or len(self.buffer) < 8 + (
                    struct.unpack_from(">I", self.buffer, 4)[0] & 0xFFFFFF):
                data = self.sock.recv(65536)
                if not data:
                    return
                self.buffer += data
            first, second = struct.unpack_from(">II", self.buffer)
            length = second & 0xFFFFFF
            payload, self.buffer = self.buffer[8:8 + length], self.buffer[8 + length:]
            control = bool(first & 0x80000000)
            yield control, first & (0xFFFF if control else 0x7FFFFFFF), second >> 24, payload


@pytest.fixture
def echo_port() -> Iterator[int]:
    server, port = echo_server()
    yield port
    server.close()


def test_a_port_forward_session(echo_port: int) -> None:
    ours, theirs = socket.socketpair()
    forwarder = spdystreams._Forwarder("127.0.0.1")
    session = spdy.Session(RawWire(ours), forwarder.add).start()
    client = Client(theirs)
    port = str(echo_port)
    client.open(1, {"streamType": "error", "port": port, "requestID": "0"}, fin=True)
    client.open(3, {"streamType": "data", "port": port, "requestID": "0"})
    theirs.sendall(spdy.data_frame(3, 0, b"hello"))
    theirs.sendall(spdy.control_frame(spdy.PING, 0, struct.pack(">I", 1)))
    seen = []
    for control, kind, flags, payload in client.frames():
        if control and kind == spdy.SYN_REPLY:
            seen.append(("reply", struct.unpack_from(">I", payload)[0]))
        elif control and kind == spdy.PING:
            seen.append(("ping", struct.unpack(">I", payload)[0]))
        elif not control and payload:
            seen.append(("data", kind, payload))
            theirs.sendall(spdy.data_frame(3, spdy.FLAG_FIN, b""))   # done sending
        elif not control and flags & spdy.FLAG_FIN:
            seen.append(("fin", kind))
            if ("fin", 1) in seen and ("fin", 3) in seen:
                break
    assert seen[:2] == [("reply", 1), ("reply", 3)]
    assert ("data", 3, b"HELLO") in seen and ("ping", 1) in seen
    theirs.close()
    assert session.wait(10)


def test_an_unreachable_port_is_reported_on_the_error_stream() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = str(probe.getsockname()[1])
    ours, theirs = socket.socketpair()
    spdy.Session(RawWire(ours), spdystreams._Forwarder("127.0.0.1").add).start()
    client = Client(theirs)
    client.open(1, {"streamtype": "error", "port": closed, "requestid": "5"}, fin=True)
    client.open(3, {"streamtype": "data", "port": closed, "requestid": "5"})
    message = b""
    for control, kind, flags, payload in client.frames():
        if not control and kind == 1:
            message += payload
            if flags & spdy.FLAG_FIN:
                break
    assert b"error forwarding port" in message
    theirs.close()
