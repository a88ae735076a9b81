#!/usr/bin/env python3
"""Slow-loris clients for front_door_test.sh.

slowloris.py HOST PORT N SECONDS [SOURCE_IP]

Opens N connections to HOST:PORT (from SOURCE_IP, default 127.0.0.1), sends
each a request line and then one more header byte every 0.5 s, never ending
the headers, for SECONDS. Prints one line per second,
"t=SEC open=N closed=N", and at the end "max_open=N final_open=N
first_close=SEC last_close=SEC" (a connection counts as closed once the
server closed or reset it).
"""
import selectors
import socket
import sys
import time


def main():
    host, port, n, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    src = sys.argv[5] if len(sys.argv) > 5 else "127.0.0.1"
    t0 = time.monotonic()
    socks = []
    closed_at = {}
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.settimeout(5)
        try:
            s.connect((host, port))
            s.sendall(b"PUT /loris/k%d HTTP/1.1\r\nHost: %s\r\n" % (i, host.encode()))
        except OSError:
            closed_at[i] = time.monotonic() - t0
        s.setblocking(False)
        socks.append(s)
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        if i not in closed_at:
            sel.register(s, selectors.EVENT_READ, i)
    max_open = 0
    next_report = 1.0
    tick = 0
    while time.monotonic() - t0 < seconds:
        for key, _ in sel.select(timeout=0.5):
            i = key.data
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            if not data:  # closed or reset (an early error answer also ends it)
                closed_at[i] = time.monotonic() - t0
                sel.unregister(key.fileobj)
        tick += 1
        for i, s in enumerate(socks):
            if i in closed_at:
                continue
            try:
                s.send(b"x")
            except OSError:
                closed_at[i] = time.monotonic() - t0
                try:
                    sel.unregister(s)
                except (KeyError, ValueError):
                    pass
        now = time.monotonic() - t0
        open_now = n - len(closed_at)
        if now >= 1.0:
            max_open = max(max_open, open_now)
        if now >= next_report:
            print("t=%d open=%d closed=%d" % (int(now), open_now, len(closed_at)), flush=True)
            next_report += 1.0
    times = sorted(closed_at.values())
    print("max_open=%d final_open=%d first_close=%.1f last_close=%.1f"
          % (max_open, n - len(closed_at), times[0] if times else -1, times[-1] if times else -1),
          flush=True)
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
