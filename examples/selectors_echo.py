"""An echo server in one select() loop: python3 selectors_echo.py PORT"""
import selectors
import socket
import sys

CAP = 1 << 20  # stop reading from a client that has this much unread echo
sel = selectors.DefaultSelector()
eof = set()  # connections whose client has sent EOF


def close(conn):
    sel.unregister(conn)
    eof.discard(conn)
    conn.close()


def serve(conn, events, out):  # out: bytes received but not yet echoed
    if events & selectors.EVENT_READ:
        data = conn.recv(65536)
        out += data
        if not data:
            eof.add(conn)  # EOF: read no more, echo what is left
    if out:
        try:
            del out[: conn.send(out)]  # a partial send keeps the rest
        except BlockingIOError:
            pass  # the send buffer is full: wait for EVENT_WRITE
    if conn in eof and not out:
        return close(conn)
    reading = conn not in eof and len(out) < CAP  # at the cap: backpressure
    want = (selectors.EVENT_READ if reading else 0) | (selectors.EVENT_WRITE if out else 0)
    if want != sel.get_key(conn).events:  # EVENT_WRITE only while bytes wait
        sel.modify(conn, want, out)


listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
listener.setblocking(False)
sel.register(listener, selectors.EVENT_READ)
while True:
    for key, events in sel.select():
        if key.fileobj is listener:
            conn, _ = listener.accept()
            conn.setblocking(False)
            sel.register(conn, selectors.EVENT_READ, bytearray())
            continue
        try:
            serve(key.fileobj, events, key.data)
        except OSError:  # a reset or a broken pipe ends this connection only
            close(key.fileobj)
