#!/usr/bin/env python3
"""The host's end of bench/run.sh's network rows, run inside the network
namespace the benchmark makes for each guest.

    net_host.py sink PORT      accept one TCP connection, read it to EOF,
                               print "NET-SINK bytes seconds", where the
                               seconds run from the first byte to EOF
    net_host.py http PORT N    answer one HTTP GET with N zero bytes
                               (for the guest's wget: the guest times it)

Both listen before they print "NET-HOST-READY", so the caller can start
the guest after that line.  A guest that never connects is the caller's
to time out (it kills us).
"""
import socket
import sys
import time


def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('0.0.0.0', port))
    s.listen(1)
    print('NET-HOST-READY', flush=True)
    conn, _ = s.accept()
    s.close()
    return conn


def sink(port):
    conn = listen(port)
    total = 0
    t0 = None
    while True:
        b = conn.recv(1 << 20)
        if not b:
            break
        if t0 is None:
            t0 = time.monotonic()
        total += len(b)
    t1 = time.monotonic()
    print('NET-SINK %d %.6f' % (total, t1 - t0 if t0 else 0), flush=True)


def http(port, n):
    conn = listen(port)
    req = b''
    while b'\r\n\r\n' not in req:
        b = conn.recv(4096)
        if not b:
            return
        req += b
    conn.sendall(b'HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n' % n)
    chunk = bytes(1 << 16)
    while n > 0:
        k = min(n, len(chunk))
        conn.sendall(chunk[:k])
        n -= k
    conn.close()


def main():
    if len(sys.argv) == 3 and sys.argv[1] == 'sink':
        sink(int(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == 'http':
        http(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
