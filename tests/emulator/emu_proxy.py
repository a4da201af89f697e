"""A compute endpoint: a TCP proxy that speaks just enough PostgreSQL protocol.

It declines SSL and GSS encryption ('N'), reads the StartupMessage, rewrites
the `database` parameter from the logical name a client asks for to the
physical database of the branch the endpoint is attached to right now,
connects to the real server, forwards the rewritten startup message and then
relays bytes both ways. Authentication happens end to end between the client
and the server.
"""

import collections
import select
import socket
import struct
import threading
import time

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
PROTOCOL_3 = 196608
MAX_STARTUP = 10000


def error_response(sqlstate, message, severity="FATAL"):
    """A backend ErrorResponse ('E') message."""
    fields = b""
    for code, value in ((b"S", severity), (b"V", severity), (b"C", sqlstate), (b"M", message)):
        fields += code + value.encode("utf-8") + b"\0"
    fields += b"\0"
    return b"E" + struct.pack("!I", len(fields) + 4) + fields


def _take_endpoint_option(options):
    """Splits `endpoint=<id>` off a startup `options` value: (id or None, the rest)."""
    named, rest = None, []
    for word in options.split():
        if word.startswith("endpoint="):
            named = word[len("endpoint="):]
        else:
            rest.append(word)
    return named, " ".join(rest)


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed during startup")
        buf += chunk
    return buf


def _parse_startup(payload):
    """Key/value pairs of a protocol-3 StartupMessage payload (after the version)."""
    parts = payload.split(b"\0")
    pairs = []
    i = 0
    while i + 1 < len(parts) and parts[i] != b"":
        pairs.append((parts[i].decode("utf-8", "replace"), parts[i + 1].decode("utf-8", "replace")))
        i += 2
    return pairs


def _build_startup(pairs):
    body = struct.pack("!I", PROTOCOL_3)
    for k, v in pairs:
        body += k.encode("utf-8") + b"\0" + v.encode("utf-8") + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


class EndpointProxy:
    """One listening socket on 127.0.0.1 per endpoint.

    @resolve(logical_db) is called for each new connection and returns
    (physical_db, read_only) or (None, error message).
    """

    def __init__(self, endpoint_id, resolve, server_host, server_port, log=None, latency=None):
        self.endpoint_id = endpoint_id
        # Seconds a round trip takes, asked per connection and per message (a knob).
        self.latency = latency or (lambda: 0.0)
        self.resolve = resolve
        self.server_host = server_host
        self.server_port = server_port
        self.log = log or (lambda msg: None)
        self.lock = threading.Lock()
        self.conns = set()
        self.closed = False
        # Connections accepted and client flights relayed (bytes a client sent before it
        # waited for an answer): a flight is one round trip, whatever its size.
        self.accepted = 0
        self.flights = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept_loop, name="proxy-" + endpoint_id,
                                       daemon=True)
        self.thread.start()

    # -- lifecycle --------------------------------------------------------
    def close_connections(self):
        """Break every connection proxied so far (the compute restarts)."""
        with self.lock:
            conns = list(self.conns)
        for pair in conns:
            for s in pair:
                if s is None:
                    continue
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        return len(conns)

    def close(self):
        with self.lock:
            self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.close_connections()

    def counters(self):
        with self.lock:
            return {"sql_connections": self.accepted, "sql_flights": self.flights}

    def count_flight(self):
        with self.lock:
            self.flights += 1

    def connection_count(self):
        with self.lock:
            return len(self.conns)

    # -- accept / relay ---------------------------------------------------
    def _accept_loop(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                if self.closed:
                    client.close()
                    return
            threading.Thread(target=self._serve, args=(client,), daemon=True,
                             name="proxy-conn-" + self.endpoint_id).start()

    def _serve(self, client):
        pair = [client, None]
        key = None
        with self.lock:
            self.accepted += 1
        try:
            if self.latency() > 0:
                time.sleep(self.latency())  # the TCP handshake's round trip
            client.settimeout(30)
            while True:
                length = struct.unpack("!I", _recv_exact(client, 4))[0]
                if length < 8 or length > MAX_STARTUP:
                    return
                payload = _recv_exact(client, length - 4)
                code = struct.unpack("!I", payload[:4])[0]
                if code in (SSL_REQUEST, GSSENC_REQUEST):
                    client.sendall(b"N")
                    continue
                break
            if code == CANCEL_REQUEST:
                # The key identifies a backend of the real server: pass it on.
                with socket.create_connection((self.server_host, self.server_port), timeout=10) as s:
                    s.sendall(struct.pack("!I", length) + payload)
                return
            if code != PROTOCOL_3:
                client.sendall(error_response("0A000", "unsupported frontend protocol %d.%d"
                                              % (code >> 16, code & 0xFFFF)))
                return
            pairs = _parse_startup(payload[4:])
            params = dict(pairs)
            logical = params.get("database") or params.get("user") or ""
            physical, extra = self.resolve(logical)
            if physical is None:
                code, text = extra if isinstance(extra, tuple) else ("3D000", extra)
                client.sendall(error_response(code, text))
                return
            read_only = bool(extra)
            out = []
            seen_db = False
            seen_opts = False
            for k, v in pairs:
                if k == "database":
                    v = physical
                    seen_db = True
                elif k == "options":
                    # Neon's proxy reads the endpoint from `options=endpoint=<id>` (for
                    # clients without SNI) and keeps it from the server.
                    named, v = _take_endpoint_option(v)
                    if named is not None and named != self.endpoint_id:
                        client.sendall(error_response(
                            "08004", "the connection names endpoint %s, this is %s"
                            % (named, self.endpoint_id)))
                        return
                    if read_only:
                        v = (v + " -c default_transaction_read_only=on").strip()
                        seen_opts = True
                    if not v:
                        continue
                out.append((k, v))
            if not seen_db:
                out.append(("database", physical))
            if read_only and not seen_opts:
                out.append(("options", "-c default_transaction_read_only=on"))
            server = socket.create_connection((self.server_host, self.server_port), timeout=10)
            pair[1] = server
            # A relay must not hold back a small write for the peer's delayed ACK (Nagle):
            # pipelined statements would each wait up to 40 ms, which Neon's proxy does not.
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            key = (client, server)
            with self.lock:
                if self.closed:
                    return
                self.conns.add(key)
            server.sendall(_build_startup(out))
            client.settimeout(None)
            server.settimeout(None)
            self._relay(client, server, self.latency, self.count_flight)
        except (OSError, ConnectionError, struct.error):
            pass
        finally:
            if key is not None:
                with self.lock:
                    self.conns.discard(key)
            for s in pair:
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass

    @staticmethod
    def _relay(a, b, latency=lambda: 0.0, flight=lambda: None):
        """Relays bytes both ways; what the client (@a) sends reaches the server one
        round trip later, so each request-and-answer exchange costs the emulated latency
        once however many bytes it carries."""
        peers = {a: b, b: a}
        late = DelayedSender(b)
        try:
            while True:
                readable, _, broken = select.select([a, b], [], [a, b], 60)
                if broken or late.failed:
                    return
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    delay = 0.0
                    if s is a:
                        flight()
                        delay = latency()
                    if delay > 0 or late.pending():
                        late.send(data, time.monotonic() + delay)
                    else:
                        peers[s].sendall(data)
        finally:
            late.stop()


class DelayedSender:
    """Sends chunks to a socket, in order, each not before its due time."""

    def __init__(self, sock):
        self.sock = sock
        self.cond = threading.Condition()
        self.queue = collections.deque()
        self.failed = False
        self.stopped = False
        self.thread = None

    def pending(self):
        with self.cond:
            return bool(self.queue)

    def send(self, data, due):
        with self.cond:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, daemon=True, name="proxy-delay")
                self.thread.start()
            self.queue.append((due, data))
            self.cond.notify()

    def stop(self):
        with self.cond:
            self.stopped = True
            self.cond.notify()

    def _run(self):
        while True:
            with self.cond:
                while not self.queue and not self.stopped:
                    self.cond.wait()
                if self.stopped:
                    return
                due, data = self.queue[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self.cond.wait(wait)  # a timed wait: the chunk's due time
                    continue
                self.queue.popleft()
            try:
                self.sock.sendall(data)
            except OSError:
                self.failed = True
                return
