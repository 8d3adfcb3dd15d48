"""An echo server in one selectors loop: python3 selectors_echo.py PORT"""
import selectors
import socket
import sys

LIMIT = 1 << 20  # stop reading from a client that has this much unread echo
sel = selectors.DefaultSelector()
pending = {}  # connection -> bytes received but not yet echoed
finished = set()  # connections whose client has sent EOF


def accept(listener):
    conn, _ = listener.accept()
    conn.setblocking(False)
    pending[conn] = bytearray()
    sel.register(conn, selectors.EVENT_READ)


def close(conn):
    sel.unregister(conn)
    del pending[conn]
    finished.discard(conn)
    conn.close()


def serve(conn, events):
    out = pending[conn]
    if events & selectors.EVENT_READ:
        data = conn.recv(65536)
        if data:
            out += data
        else:
            finished.add(conn)  # EOF: read no more, echo what is left
    if out:
        try:
            del out[: conn.send(out)]  # a partial send keeps the rest
        except BlockingIOError:
            pass  # the socket buffer is full: wait for EVENT_WRITE
    if conn in finished and not out:
        close(conn)
        return
    reading = conn not in finished and len(out) < LIMIT
    want = (selectors.EVENT_READ if reading else 0) | (selectors.EVENT_WRITE if out else 0)
    if want != sel.get_key(conn).events:  # EVENT_WRITE only while bytes wait
        sel.modify(conn, want)


listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
listener.setblocking(False)
sel.register(listener, selectors.EVENT_READ)
while True:
    for key, events in sel.select():
        if key.fileobj is listener:
            accept(listener)
            continue
        try:
            serve(key.fileobj, events)
        except OSError:  # a reset or a broken pipe ends this connection only
            close(key.fileobj)
