"""The background worker: takes jobs off the Redis queue and records them as done."""

import socket
import time

from resp import Redis

redis = Redis()
me = socket.gethostname()

if __name__ == "__main__":
    print(f"worker {me} waiting for jobs", flush=True)
    while True:
        try:
            item = redis.call("BLPOP", "queue", 5)
        except OSError as error:  # the cache is not up yet, or restarting
            print(f"cache unavailable: {error}", flush=True)
            time.sleep(1)
            continue
        if item:
            _, job = item
            redis.call("RPUSH", "done", f"{job} by {me}")
            print(f"done {job}", flush=True)
