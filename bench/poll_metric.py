#!/usr/bin/env python3
"""Polls one counter of a dispatcher's /metrics until it reaches a target.

One process with one kept-alive connection: a shell loop of curl, awk, sed and date spawned
about five processes per poll, which cost the machine a third of a core while the dispatcher
was being measured (and nothing while wrk measured the ceiling). Here a poll costs well under
a millisecond.

  poll_metric.py PORT METRIC TARGET SECONDS [PID TIMELINE]

Every POLL_MS (20) milliseconds reads METRIC (the sample whose name and labels are exactly
METRIC, 0 while absent); with PID and TIMELINE also appends "wall_seconds value cpu_ticks"
(PID's utime + stime from /proc) to TIMELINE at each poll below the target. Prints the wall
clock (seconds, as `date +%s.%N`) of the first poll at or past TARGET; exits 1 after SECONDS.
With READY_FILE set, creates that file after the first poll: a caller starting the work only
then measures no time of Python's own start (tens of milliseconds, more on a loaded host).
"""
import http.client
import os
import sys
import time


def value(text, metric):
    key = metric + " "
    for line in text.splitlines():
        if line.startswith(key):
            return int(float(line[len(key):].split()[0]))
    return 0


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def main():
    port, metric, target, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    pid = sys.argv[5] if len(sys.argv) > 5 else None
    timeline = open(sys.argv[6], "a") if len(sys.argv) > 6 else None
    poll = float(os.environ.get("POLL_MS", "20")) / 1000
    deadline = time.monotonic() + seconds
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
    ready = os.environ.get("READY_FILE")
    n = 0
    while True:
        try:
            conn.request("GET", "/metrics")
            n = value(conn.getresponse().read().decode(), metric)
        except (OSError, http.client.HTTPException):
            conn.close()  # reconnects on the next request
        now = time.time()
        if ready:
            open(ready, "w").close()
            ready = None
        if n >= target:
            print("%.9f" % now)
            return 0
        if timeline and pid:
            timeline.write("%.9f %d %d\n" % (now, n, cpu_ticks(pid)))
            timeline.flush()
        if time.monotonic() > deadline:
            print(f"timed out: {n}/{target} delivered", file=sys.stderr)
            return 1
        time.sleep(poll)


if __name__ == "__main__":
    sys.exit(main())
