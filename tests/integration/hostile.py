"""Hostile HTTP peers for the integration tests: a C4C tenant or a Cloud ALM endpoint that misbehaves.

A HostilePeer is a raw-socket server (one thread per connection, optionally TLS) whose behaviour is
chosen by its `mode`, which a test may change at any time (new connections see the new mode):

  silent        read the request, never answer, hold the connection until the client gives up
  trickle       a valid 200 answer, one byte per second
  huge_length   announce a 2 GiB body with Content-Length, then stream it as fast as possible
  huge_chunked  a 2 GiB chunked body streamed as fast as possible (no length announced)
  bad_chunked   Transfer-Encoding: chunked with an invalid chunk-size line
  close_mid     announce 1000 bytes, send 100, close
  redirect      `redirect_status` (302, 307, ...) to `redirect_to` (another host)
  ok            200 {} (a well-behaved, recording sink)
  proxy         after the (TLS) handshake, pipe the raw bytes to `upstream` (host, port): the peer
                has recovered and the real simulator answers

Everything the peer received is recorded (request lines and headers), and so is how much it managed
to send, so that a test can tell what the daemon did. Python standard library only."""

import os
import socket
import ssl
import subprocess
import threading
import time

GIB = 1 << 30


class HostilePeer:
    def __init__(self, mode="silent", host="127.0.0.1", tls=None, upstream=None, redirect_to=None,
                 redirect_status=302):
        self.mode = mode
        self.tls = tls  # an ssl.SSLContext (server side); may be swapped at run time
        self.upstream = upstream
        self.redirect_to = redirect_to
        self.redirect_status = redirect_status
        self.requests = []          # {"mode", "method", "target", "headers": {lower name: value}}
        self.connections = 0
        self.tls_failures = []      # str(error) of every failed server-side handshake
        self.bytes_sent = []        # bytes sent per connection, in the modes that stream
        self.proxied_bytes = 0      # bytes from the client forwarded upstream in proxy mode
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._sockets = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(128)
        self.host = host
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def close(self):
        self._closing.set()
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            for s in list(self._sockets):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                try:
                    s.close()
                except OSError:
                    pass
        self._thread.join(5)

    def authorization_seen(self):
        with self._lock:
            return [r for r in self.requests if "authorization" in r["headers"]]

    # ---- internals -----------------------------------------------------------------------------

    def _accept_loop(self):
        while not self._closing.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._sockets.add(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        conn = sock
        try:
            sock.settimeout(60)
            context = self.tls
            if context is not None:
                try:
                    conn = context.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    with self._lock:
                        self.tls_failures.append(str(e))
                    return
                with self._lock:
                    self._sockets.add(conn)
            mode = self.mode
            if mode == "proxy":
                self._proxy(conn)
                return
            while not self._closing.is_set():
                request = self._read_request(conn)
                if request is None:
                    return
                if self.mode == "proxy":
                    return  # recovered: a kept-alive connection is closed, the client reconnects
                request["mode"] = mode
                with self._lock:
                    self.requests.append(request)
                if not self._answer(conn, mode):
                    return
                mode = self.mode
        except OSError:
            pass
        finally:
            for s in {conn, sock}:
                try:
                    s.close()
                except OSError:
                    pass
            with self._lock:
                self._sockets.discard(sock)
                self._sockets.discard(conn)

    def _read_request(self, conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
            if len(data) > 1 << 20:
                return None
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = (lines[0].split(" ", 2) + ["", ""])[:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            rest += chunk
        return {"method": method, "target": target, "headers": headers, "body_bytes": length}

    def _stream(self, conn, head, piece, total):
        """Sends `head` then `piece` repeatedly (up to `total` bytes of it) until the client stops."""
        sent = 0
        try:
            conn.sendall(head)
            while sent < total and not self._closing.is_set():
                conn.sendall(piece)
                sent += len(piece)
        except OSError:
            pass
        with self._lock:
            self.bytes_sent.append(sent)

    def _answer(self, conn, mode):
        """Misbehaves; True when the connection may serve another request."""
        if mode == "silent":
            conn.settimeout(0.5)
            while not self._closing.is_set():
                try:
                    if not conn.recv(4096):
                        return False
                except socket.timeout:
                    continue
            return False
        if mode == "trickle":
            body = b'{"d":{"results":[]}}'
            answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                      str(len(body)).encode() + b"\r\n\r\n" + body)
            sent = 0
            for i in range(len(answer)):
                if self._closing.wait(1.0 if i else 0):
                    break
                try:
                    conn.sendall(answer[i:i + 1])
                except OSError:
                    break
                sent += 1
            with self._lock:
                self.bytes_sent.append(sent)
            return False
        if mode == "huge_length":
            head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                    str(2 * GIB).encode() + b"\r\n\r\n")
            self._stream(conn, head, b" " * (1 << 20), 2 * GIB)
            return False
        if mode == "huge_chunked":
            chunk = b" " * (1 << 20)
            piece = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            self._stream(conn, head, piece, 2 * GIB)
            return False
        if mode == "bad_chunked":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"zz-not-hex\r\n{\"d\":{}}\r\n0\r\n\r\n")
            self._drain_until_closed(conn)
            return False
        if mode == "close_mid":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n" +
                         b'{"d":{"results":[' + b" " * 83)
            return False
        if mode == "redirect":
            conn.sendall(b"HTTP/1.1 %d Moved\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" %
                         (self.redirect_status, self.redirect_to.encode()))
            return True
        if mode == "ok":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
            return True
        raise ValueError(f"unknown hostile mode {mode!r}")

    def _drain_until_closed(self, conn):
        conn.settimeout(0.5)
        deadline = time.monotonic() + 30
        while not self._closing.is_set() and time.monotonic() < deadline:
            try:
                if not conn.recv(4096):
                    return
            except socket.timeout:
                continue

    def _proxy(self, conn):
        upstream = socket.create_connection(self.upstream, timeout=60)
        with self._lock:
            self._sockets.add(upstream)
        done = threading.Event()

        def pump(source, target, count):
            try:
                while True:
                    data = source.recv(65536)
                    if not data:
                        break
                    if count:
                        with self._lock:
                            self.proxied_bytes += len(data)
                    target.sendall(data)
            except OSError:
                pass
            finally:
                done.set()

        back = threading.Thread(target=pump, args=(upstream, conn, False), daemon=True)
        back.start()
        pump(conn, upstream, True)
        done.wait(60)
        for s in (upstream, conn):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        back.join(5)
        upstream.close()
        with self._lock:
            self._sockets.discard(upstream)


# ---- certificates ------------------------------------------------------------------------------------

def _openssl(*args, cwd):
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {done.stderr}")


def make_certificates(directory):
    """A test CA and three server certificates it signed, all for 127.0.0.1 unless said otherwise:
    `good`, `expired` (valid in January 2020 only) and `wrong_host` (for wrong-host.invalid).
    Returns {"ca": path, "good": (cert, key), "expired": (cert, key), "wrong_host": (cert, key)}."""
    os.makedirs(directory, exist_ok=True)
    d = directory
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj",
             "/CN=c4c hostile test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    os.makedirs(os.path.join(d, "issued"), exist_ok=True)
    with open(os.path.join(d, "index.txt"), "w"):
        pass
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("1000\n")
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write(f"""[ca]
default_ca = test_ca
[test_ca]
dir = {d}
database = {d}/index.txt
new_certs_dir = {d}/issued
serial = {d}/serial
default_md = sha256
policy = any
unique_subject = no
email_in_dn = no
[any]
commonName = supplied
""")
    result = {"ca": os.path.join(d, "ca.pem")}
    leaves = {
        "good": ("127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost", None),
        "expired": ("127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost", ("20200101000000Z", "20200201000000Z")),
        "wrong_host": ("wrong-host.invalid", "subjectAltName=DNS:wrong-host.invalid,IP:10.255.255.1", None),
    }
    for name, (cn, san, dates) in leaves.items():
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write(f"basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n{san}\n")
        _openssl("req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
        validity = ["-startdate", dates[0], "-enddate", dates[1]] if dates else ["-days", "30"]
        _openssl("ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key",
                 "-in", f"{name}.csr", "-out", f"{name}.pem", "-extfile", f"{name}.ext", *validity, cwd=d)
        result[name] = (os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key"))
    return result


def server_context(cert_and_key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert_and_key)
    return context


# ---- process figures -----------------------------------------------------------------------------------

def process_status(pid):
    """{"VmRSS": kB, "VmHWM": kB, ...} from /proc/<pid>/status."""
    figures = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if value.strip().endswith("kB"):
                figures[name] = int(value.split()[0])
    return figures


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def sanitized(binary):
    """True for a build with AddressSanitizer (C4C_SANITIZE): its memory figures are several times larger."""
    import mmap
    if "ASAN_OPTIONS" in os.environ:
        return True
    try:
        with open(binary, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return data.find(b"__asan_init") >= 0
    except (OSError, ValueError):
        return False
