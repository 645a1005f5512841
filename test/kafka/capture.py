#!/usr/bin/env python3
"""Capture the request frames real Kafka clients send, as codec fixtures.

    make test/kafka/kcrespond
    python3 test/kafka/capture.py test/kafka/fixtures     # (re)capture
    python3 test/kafka/capture.py --check test/kafka/fixtures

Runs each scenario below against a loopback listener that records every
request frame a client sends (size prefix stripped, written as one line of
hex to OUTDIR/<scenario>-<n>-<api>-v<version>.hex) and answers through
test/kafka/kcrespond, i.e. with responses encoded by the codec itself
(ApiVersions, Metadata, Produce, ListOffsets, Fetch, InitProducerId,
SaslHandshake), so that the clients go on to the requests we want.  A
scenario ends when its client exits, when a request of its `until` API has
been seen, or after a timeout.

Clients: kcat (Debian `kcat`, librdkafka 2.0.2) and python3-confluent-kafka
(same librdkafka).  Needs no broker and no PostgreSQL.  With --check, the
clients are run again and must send the same requests as the fixtures and
exit 0: a check that real clients accept the responses the codec encodes
(`make check-kafka-clients`, run by test/run.sh's codec suite when kcat and
python3-confluent-kafka are installed).
"""

import os
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESPOND = os.path.join(HERE, "kcrespond")
API_NAMES = {0: "produce", 1: "fetch", 2: "listoffsets", 3: "metadata",
             17: "saslhandshake", 18: "apiversions", 19: "createtopics",
             20: "deletetopics", 22: "initproducerid", 23: "offsetforleaderepoch",
             32: "describeconfigs", 36: "saslauthenticate", 60: "describecluster"}


def recv_exact(sock_or_file, n):
    buf = b""
    while len(buf) < n:
        if hasattr(sock_or_file, "recv"):
            chunk = sock_or_file.recv(n - len(buf))
        else:
            chunk = sock_or_file.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class Listener:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.frames = []
        self.lock = threading.Lock()
        self.seen = threading.Event()
        self.until = None
        self.stop = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        env = dict(os.environ, KC_PORT=str(self.port))
        proc = subprocess.Popen([RESPOND], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, env=env)
        try:
            while True:
                hdr = recv_exact(conn, 4)
                if hdr is None:
                    break
                (size,) = struct.unpack(">i", hdr)
                if size <= 0 or size > 100 << 20:
                    break
                body = recv_exact(conn, size)
                if body is None:
                    break
                api, ver = struct.unpack(">hh", body[:4])
                with self.lock:
                    self.frames.append((api, ver, body))
                if self.until is not None and api in self.until:
                    self.seen.set()
                proc.stdin.write(hdr + body)
                proc.stdin.flush()
                rh = recv_exact(proc.stdout, 4)
                if rh is None:
                    break
                (rsize,) = struct.unpack(">i", rh)
                if rsize == 0:
                    continue
                rb = recv_exact(proc.stdout, rsize)
                if rb is None:
                    break
                conn.sendall(rh + rb)
        except (OSError, BrokenPipeError):
            pass
        finally:
            conn.close()
            try:
                proc.stdin.close()
            except OSError:
                pass
            proc.kill()
            proc.wait()

    def close(self):
        self.stop = True
        self.sock.close()


def kcat(args, stdin=None):
    return lambda port: (["kcat", "-b", "127.0.0.1:%d" % port, "-X",
                          "socket.timeout.ms=3000", "-m", "3"] + args, stdin)


PRODUCER_PY = r"""
import sys
from confluent_kafka import Producer
conf = {"bootstrap.servers": sys.argv[1], "socket.timeout.ms": 3000,
        "message.timeout.ms": 4000}
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    conf[k] = v
p = Producer(conf)
failed = []
def report(err, msg):
    if err is not None:
        failed.append(err)
p.produce("t1", key=b"k1", value=b"v1", headers=[("h", b"1"), ("h", b"2"), ("n", None)],
          on_delivery=report)
p.produce("t1", key=None, value=b"", on_delivery=report)
p.produce("t1", key=b"", value=None, on_delivery=report)
left = p.flush(5)
sys.exit(1 if failed or left else 0)
"""

ADMIN_PY = r"""
import sys
from confluent_kafka.admin import AdminClient, NewTopic, ConfigResource
a = AdminClient({"bootstrap.servers": sys.argv[1], "socket.timeout.ms": 3000})
what = sys.argv[2]
if what == "create":
    fs = a.create_topics([NewTopic("t2", 3, 1, config={"retention.ms": "1000"})],
                         request_timeout=3)
elif what == "delete":
    fs = a.delete_topics(["t2"], request_timeout=3)
else:
    fs = a.describe_configs([ConfigResource("topic", "t1")], request_timeout=3)
for f in fs.values():
    try:
        f.result(timeout=4)
    except Exception:
        pass
"""


# the Debian python3 that has python3-confluent-kafka
PYTHON = os.environ.get("KC_PYTHON", "/usr/bin/python3" if os.path.exists("/usr/bin/python3")
                        else sys.executable)


def py(script, *args):
    return lambda port: ([PYTHON, "-c", script, "127.0.0.1:%d" % port] + list(args), None)


RECORDS = b"k1:v1\nk2:\n:v3\n"

# name, command builder, APIs after which the scenario may stop
SCENARIOS = [
    ("kcat-metadata", kcat(["-L"]), None),
    ("kcat-produce", kcat(["-P", "-t", "t1", "-K:", "-H", "h=1", "-H", "h=2"], RECORDS), None),
    ("kcat-produce-gzip", kcat(["-P", "-t", "t1", "-K:", "-z", "gzip"], RECORDS), None),
    ("kcat-produce-snappy", kcat(["-P", "-t", "t1", "-K:", "-z", "snappy"], RECORDS), None),
    ("kcat-produce-lz4", kcat(["-P", "-t", "t1", "-K:", "-z", "lz4"], RECORDS), None),
    ("kcat-produce-zstd", kcat(["-P", "-t", "t1", "-K:", "-z", "zstd"], RECORDS), None),
    ("kcat-consume", kcat(["-C", "-t", "t1", "-o", "beginning", "-e"]), {1}),
    ("kcat-sasl-plain", kcat(["-L", "-X", "security.protocol=SASL_PLAINTEXT",
                              "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=u",
                              "-X", "sasl.password=p"]), {36}),
    ("py-idempotent", py(PRODUCER_PY, "enable.idempotence=true", "acks=all"), None),
    ("py-acks0", py(PRODUCER_PY, "acks=0", "compression.type=zstd"), None),
    ("py-create-topics", py(ADMIN_PY, "create"), {19}),
    ("py-delete-topics", py(ADMIN_PY, "delete"), {20}),
    ("py-describe-configs", py(ADMIN_PY, "describe"), {32}),
]


def main():
    check = len(sys.argv) == 3 and sys.argv[1] == "--check"
    if len(sys.argv) != 2 and not check:
        raise SystemExit(__doc__)
    if check:
        return check_clients(sys.argv[2])
    capture(sys.argv[1])


def check_clients(fixtures):
    """Capture again into a scratch directory: each client must reach the
    same requests (so it accepted every response the codec encoded before
    them) and, when it ran to its end, exit 0 (the producers check their
    delivery reports)."""
    import tempfile
    passed = failed = 0
    want = sorted(f for f in os.listdir(fixtures) if f.endswith(".hex"))
    with tempfile.TemporaryDirectory() as tmp:
        results = capture(tmp)
        got = sorted(os.listdir(tmp))
    for name, _, until in SCENARIOS:
        w = [f for f in want if f.startswith(name + "-") and f[len(name) + 1].isdigit()]
        g = [f for f in got if f.startswith(name + "-") and f[len(name) + 1].isdigit()]
        rc = results[name]
        if w != g:
            failed += 1
            print("FAIL: %s sent %s, the fixtures have %s" % (name, g, w))
        elif until is None and rc != 0:
            failed += 1
            print("FAIL: %s exited %d" % (name, rc))
        else:
            passed += 1
    print("clients: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def capture(outdir):
    results = {}
    os.makedirs(outdir, exist_ok=True)
    for name, build, until in SCENARIOS:
        lst = Listener()
        lst.until = until
        cmd, stdin = build(lst.port)
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            proc.stdin.write(stdin or b"")
            proc.stdin.close()
        except BrokenPipeError:
            pass
        deadline = time.time() + 10
        while time.time() < deadline and proc.poll() is None:
            if until is not None and lst.seen.is_set():
                time.sleep(0.3)
                break
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
        rc = proc.wait()
        lst.close()
        kept = set()
        n = 0
        with lst.lock:
            frames = list(lst.frames)
        for api, ver, body in frames:
            if (api, ver) in kept:
                continue
            kept.add((api, ver))
            n += 1
            fn = "%s-%d-%s-v%d.hex" % (name, n, API_NAMES.get(api, "api%d" % api), ver)
            with open(os.path.join(outdir, fn), "w") as f:
                f.write(body.hex() + "\n")
        results[name] = rc
        print("%s (exit %d): %s" % (name, rc, ", ".join("%s v%d" % (API_NAMES.get(a, a), v)
                                         for a, v in sorted(kept))))
    return results


if __name__ == "__main__":
    sys.exit(main())
