"""The background worker: takes jobs off the Redis queue and records them as done."""

import signal
import socket
import time

from resp import Redis

redis = Redis()
me = socket.gethostname()


def stop(signum, frame):
    # As PID 1 a process gets no default SIGTERM handling: without this, every stop waits
    # out the whole grace period and then gets SIGKILL.
    raise SystemExit(0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop)
    print(f"worker {me} waiting for jobs", flush=True)
    while True:
        try:
            # Blocks up to 2 s on the server: less than the client's 5 s socket timeout.
            item = redis.call("BLPOP", "queue", 2)
        except OSError as error:  # the cache is not up yet, or restarting
            print(f"cache unavailable: {error}", flush=True)
            time.sleep(1)
            continue
        if item:
            _, job = item
            redis.call("RPUSH", "done", f"{job} by {me}")
            print(f"done {job}", flush=True)
