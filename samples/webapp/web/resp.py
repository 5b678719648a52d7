"""A minimal Redis (RESP2) client, so the sample needs nothing beyond the Python stdlib."""

import os
import socket


class Redis:
    def __init__(self, host=None, port=None, timeout=5.0):
        self.address = (host or os.environ.get("REDIS_HOST", "localhost"),
                        int(port or os.environ.get("REDIS_PORT", "6379")))
        self.timeout = timeout

    def call(self, *args):
        with socket.create_connection(self.address, timeout=self.timeout) as sock:
            payload = f"*{len(args)}\r\n".encode()
            for arg in args:
                data = str(arg).encode()
                payload += b"$%d\r\n%s\r\n" % (len(data), data)
            sock.sendall(payload)
            return _read(sock.makefile("rb"))


def _read(stream):
    line = stream.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        data = stream.read(size + 2)[:-2]
        return data.decode()
    if kind == b"*":
        count = int(rest)
        return None if count < 0 else [_read(stream) for _ in range(count)]
    raise RuntimeError(f"unexpected reply {line!r}")
