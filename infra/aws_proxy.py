"""The loopback proxy in front of moto that infra/measure_lambdas.py measures AWS through: it
records each request from its arrival to its answer sent (so a cold start splits into its wait
on AWS and its own time), counts the round trips, and can hold every request a while, as a
region's round trip would."""
import http.client
import http.server
import threading
import time


class DelayProxy(http.server.ThreadingHTTPServer):
    """Loopback HTTP proxy in front of moto holding every request `delay_s` before passing it on:
    one AWS round trip then costs about what it costs in a region (tens of milliseconds)."""

    daemon_threads = True

    def __init__(self, upstream_port, delay_s):
        self.upstream_port, self.delay_s, self.requests = upstream_port, delay_s, 0
        self.spans, self.lock = [], threading.Lock()  # (arrived, answered) per request
        self.in_flight, self.all_answered = 0, threading.Condition(self.lock)
        super().__init__(("127.0.0.1", 0), DelayHandler)

    def take_round_trips(self, other=()):
        """Round trips among the requests since the last call, and the seconds the function
        waited on them. A request rides in the round trip of the requests sent with it: one
        that arrived before any of them was answered. One that arrived after an answer went
        out may have waited for it, so it starts the next round trip (with 20 ms held per
        request, those sent together arrive within a millisecond, long before any answer).
        Only the requests to AWS count (`other`, requests that are not held, such as the fetch
        of Microsoft's signing keys, are answered at once and would end a round trip early).
        The wait is the time from a request's arrival to its answer sent, theirs and `other`'s
        (their union). Waits for the answers still being written: the function may have read
        one before the proxy recorded it."""
        with self.lock:
            self.all_answered.wait_for(lambda: self.in_flight == 0, timeout=10)
            aws, self.spans = sorted(self.spans), []
        trips, first_answer = 0, None
        for start, end in aws:
            if first_answer is None or start >= first_answer:
                trips, first_answer = trips + 1, end
            else:
                first_answer = min(first_answer, end)
        return trips, union_length(sorted(aws + list(other)))


def union_length(spans):
    """Seconds covered by at least one of the sorted (start, end) spans."""
    total, cover_start, cover_end = 0.0, None, None
    for start, end in spans:
        if cover_end is None or start > cover_end:
            if cover_end is not None:
                total += cover_end - cover_start
            cover_start, cover_end = start, end
        else:
            cover_end = max(cover_end, end)
    if cover_end is not None:
        total += cover_end - cover_start
    return total


class DelayHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK expects
    # Headers and body go out in separate writes: with Nagle's algorithm the body would wait for
    # the client's delayed ACK (40 ms on Linux), on top of the delay this proxy is meant to add.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def parse_request(self):
        # From the request line read: parsing it is this proxy's time, not the function's.
        self.arrived = time.perf_counter()
        parsed = super().parse_request()
        if parsed:
            with self.server.lock:
                self.server.in_flight += 1
        return parsed

    def _forward(self):
        try:
            self._forward_held()
        finally:
            with self.server.lock:
                self.server.in_flight -= 1
                self.server.all_answered.notify_all()

    def _forward_held(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        with self.server.lock:
            self.server.requests += 1
        time.sleep(self.server.delay_s)
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=30)
        upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
        resp = upstream.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        upstream.close()
        self.wfile.write(data)
        with self.server.lock:
            self.server.spans.append((self.arrived, time.perf_counter()))

    do_GET = do_POST = do_PUT = do_DELETE = _forward
