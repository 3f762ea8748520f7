#!/usr/bin/env python3
"""Figures for the Lambda binaries, next to a hello-world lambda_http baseline built the same way:
binary size, cold start (process start -> first event answered) and peak RSS (VmHWM), each the
median of several fresh processes, all in one run under cargo-lambda's runtime emulator with moto
(DynamoDB + Secrets Manager) on loopback.

Build first (release, as deployed; x86_64 here):
  cargo lambda build --release --bin graph-webhook --bin swyx-webhook --bin maintenance
  (cd infra/lambda-hello && cargo lambda build --release)
Then: .venv/bin/python infra/measure_lambdas.py [--runs 11] [--aws-delay-ms 20]

Each function's first event: Graph's validation handshake (graph-webhook), a signed
`speaking.started` of a Swyx user nobody linked (swyx-webhook: the event secret, the signature,
the store; meanwhile the app-only Graph token it fetches as it starts, from a loopback token
endpoint), a scheduled event with an empty backlog (maintenance: the store). graph-webhook is also
measured with a notification as its first event (graph-webhook-notification: one encrypted
presence item of a subscription the store knows, for a user nobody linked, with a validation
token whose key a loopback JWKS server publishes: the secrets, Microsoft's keys and the
subscriptions, then the token, the unwrap and the user's decision; infra/graph_notification.py).
Every function gets its secrets as Secrets Manager ARNs, as in the SAM template.

Each function is measured three times: straight to moto (the headline ratio); through a loopback
proxy in front of moto, which records when each AWS request arrived and when its answer went
out, so that each cold start splits into its wait on AWS and the function's own time (the
floor of a function that must make a round trip is hello-world + that wait); and through the
same proxy holding every request --aws-delay-ms (20 ms by default, about what a round trip
costs in a region where moto answers in milliseconds), so each round trip made before the first
answer shows. The proxied passes count the AWS calls and the round trips they took (calls sent
together, before any of them was answered, share one; the fetch of Microsoft's signing keys,
never held, counts as a call and a wait, not as a round trip). Each table also gives each process's CPU time (all
threads) and minor page faults up to its answer, read from /proc before it is killed: its own
work without any wait, which the machine's other load moves less than the wall-clock figures.
The last line sums it up.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import graph_notification
from aws_proxy import DelayProxy

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
VENV_BIN = os.path.dirname(sys.executable)
KEY_PEM = os.path.join(ROOT, "tests/fixtures/crypto/key2048.pkcs8.pem")
CERT_PEM = os.path.join(ROOT, "tests/fixtures/crypto/key2048.cert.pem")
CERT_ID = "c1"
TENANT = "9f4ebab6-520d-49c0-85cc-7b25c78d4a93"
APP_ID = "925bff9f-f6e2-4a69-b858-f71ea2b9b6d0"
EVENTS_SECRET = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
SCHEDULED = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"{what} exited with {proc.returncode}")
            time.sleep(0.02)
    sys.exit(f"{what} did not listen on {port}")


def start(cmd, log, **kw):
    return subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, **kw)


def cpu_and_faults(pid):
    """The process's CPU time so far in ms (every thread's time on a CPU, to the nanosecond:
    /proc/PID/task/*/schedstat) and its minor page faults (/proc/PID/stat): the part of a cold
    start that is the function's own work, free of the waits that move its wall-clock time."""
    ns = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat", encoding="ascii") as f:
                ns += int(f.read().split()[0])
        except FileNotFoundError:  # a thread that just ended
            pass
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        minflt = int(f.read().rsplit(")", 1)[1].split()[7])
    return ns / 1e6, minflt


def peak_rss_kb(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def signed_event(body):
    """A connector event signed as the Standard Webhooks contract says."""
    msg_id, ts = f"msg_{time.time_ns()}", str(int(time.time()))
    key = base64.b64decode(EVENTS_SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": ts,
            "webhook-signature": "v1," + base64.b64encode(mac).decode()}


def aws_setup(endpoint):
    import boto3  # comes with moto

    kw = dict(endpoint_url=endpoint, region_name="eu-west-1",
              aws_access_key_id="test", aws_secret_access_key="test")
    ddb = boto3.client("dynamodb", **kw)
    ddb.create_table(
        TableName="figures", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                              for n in ("pk", "sk", "due_pk", "due_sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "due",
            "KeySchema": [{"AttributeName": "due_pk", "KeyType": "HASH"},
                          {"AttributeName": "due_sk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"}}])
    sm = boto3.client("secretsmanager", **kw)
    with open(KEY_PEM, encoding="ascii") as f:
        key_arn = sm.create_secret(Name="figures/key", SecretString=f.read())["ARN"]
    conn_arn = sm.create_secret(Name="figures/connector",
                                SecretString="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")["ARN"]
    events_arn = sm.create_secret(Name="figures/events", SecretString=EVENTS_SECRET)["ARN"]
    graph_arn = sm.create_secret(Name="figures/graph", SecretString="figures-client-secret")["ARN"]
    ddb.put_item(TableName="figures", Item=graph_notification.subscription_item(CERT_ID))
    swyx_env = {"CONNECTOR_EVENT_SECRETS": events_arn, "GRAPH_CLIENT_SECRET": graph_arn}
    return swyx_env, {
        "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_ENDPOINT_URL": endpoint, "TABLE_NAME": "figures", "RUST_LOG": "warn",
        "GRAPH_TENANT_ID": TENANT, "GRAPH_CLIENT_ID": APP_ID,
        "GRAPH_ENCRYPTION_KEYS": json.dumps([{"id": CERT_ID, "private_key": key_arn}]),
        "CONNECTOR_URL": "http://127.0.0.1:9/", "CONNECTOR_SIGNING_SECRET": conn_arn,
    }


def one_cold_start(rt_port, name, binary, env, request, tmp):
    """Starts a fresh process, sends its first event at once (the emulator holds it until the
    runtime asks for work), returns (ms to the answer, peak RSS kB, CPU ms, page faults)."""
    full_env = {"HOME": tmp, "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{rt_port}/.rt/{name}",
                "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_VERSION": "1",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", **env}
    with open(os.path.join(tmp, f"{name}.log"), "ab") as log:
        t0 = time.perf_counter()
        # Its own process group, killed whole: a wrapper (strace, perf) killed alone would leave
        # the function running, and that process would answer the next cold start's event.
        proc = start([binary], log, env=full_env, start_new_session=True)
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                resp.read()
                status = resp.status
            elapsed = (time.perf_counter() - t0) * 1000
            rss = peak_rss_kb(proc.pid)
            cpu_ms, faults = cpu_and_faults(proc.pid)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if status >= 300:
        sys.exit(f"{name}: first event answered {status}; see {tmp}/{name}.log")
    return elapsed, rss, cpu_ms, faults


def dropped(log_path):
    """Exits when the function dropped the notification's item (then the row would measure a
    shorter path than a notification's): the intake logs a warning naming why."""
    with open(log_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if "items dropped or kept pending" in line:
                sys.exit(f"graph-webhook dropped the notification's item: {line.strip()}")


def load_average():
    with open("/proc/loadavg", encoding="ascii") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--aws-delay-ms", type=float, default=20.0,
                    help="held per AWS request in the second pass (0: one pass only)")
    ap.add_argument("--lambda-dir", default=os.path.join(ROOT, "target/lambda"))
    ap.add_argument("--hello", default=os.path.join(
        ROOT, "infra/lambda-hello/target/lambda/lambda-hello/bootstrap"))
    args = ap.parse_args()
    load_before = load_average()

    # (row, function name, bootstrap, project dir: the emulator accepts only binaries of the
    # project it runs in)
    hello_dir = os.path.join(ROOT, "infra/lambda-hello")
    bootstrap = lambda name: os.path.join(args.lambda_dir, f"{name}/bootstrap")  # noqa: E731
    functions = [("lambda-hello", "lambda-hello", args.hello, hello_dir)] + [
        (name, name, bootstrap(name), ROOT)
        for name in ("graph-webhook", "swyx-webhook", "maintenance")] + [
        ("graph-webhook-notification", "graph-webhook", bootstrap("graph-webhook"), ROOT)]
    for _, _, path, _ in functions:
        if not os.path.isfile(path):
            sys.exit(f"{path} missing: build it first (see --help)")

    tmp = tempfile.mkdtemp(prefix="lambda-figures-")
    log = open(os.path.join(tmp, "servers.log"), "ab")
    moto_port = free_port()
    moto = start([os.path.join(VENV_BIN, "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)], log)
    servers = [moto]
    emulators = {}
    for project in (hello_dir, ROOT):
        port = free_port()
        servers.append(start([os.path.join(VENV_BIN, "cargo-lambda"), "lambda", "watch",
                              "--only-lambda-apis", "--ignore-changes", "--invoke-address",
                              "127.0.0.1", "--invoke-port", str(port)], log, cwd=project))
        emulators[project] = port
    # (label, ms held per AWS request, through the proxy): straight to moto for the headline;
    # through the proxy without delay to split each cold start into the function's own time and
    # its wait on AWS; with the delay to show the round trips.
    issuer = graph_notification.TokenIssuer()  # Microsoft's identity platform's part
    passes = [("straight to moto", 0.0, False), ("through the proxy", 0.0, True)]
    if args.aws_delay_ms > 0:
        passes.append((f"through the proxy, {args.aws_delay_ms:g} ms each", args.aws_delay_ms, True))
    results = {}  # label -> rows
    try:
        wait_port(moto_port, moto, "moto_server")
        for proc, port in zip(servers[1:], emulators.values()):
            wait_port(port, proc, "cargo lambda watch")
        moto_url = f"http://127.0.0.1:{moto_port}"
        swyx_env, env = aws_setup(moto_url)
        with open(CERT_PEM, "rb") as f:
            cert_pem = f.read()
        for label, delay, proxied in passes:
            proxy = None
            endpoint = moto_url
            if proxied:
                proxy = DelayProxy(moto_port, delay / 1000)
                threading.Thread(target=proxy.serve_forever, daemon=True).start()
                endpoint = f"http://127.0.0.1:{proxy.server_address[1]}"
            rows = []
            for row, name, path, project in functions:
                base = f"http://127.0.0.1:{emulators[project]}"

                def request():
                    if row == "graph-webhook-notification":
                        body = graph_notification.collection(issuer, cert_pem, CERT_ID, APP_ID,
                                                             TENANT)
                        return urllib.request.Request(
                            f"{base}/lambda-url/{name}/graph/notifications", data=body,
                            headers={"content-type": "application/json"}, method="POST")
                    if name == "maintenance":
                        return urllib.request.Request(
                            f"{base}/2015-03-31/functions/{name}/invocations",
                            data=json.dumps(SCHEDULED).encode(), method="POST")
                    if name == "swyx-webhook":
                        body = json.dumps({"type": "speaking.started", "swyxUserId": "nobody",
                                           "callId": "c1", "at": "2026-11-26T12:00:00Z"}).encode()
                        return urllib.request.Request(
                            f"{base}/lambda-url/{name}/swyx/events", data=body,
                            headers=signed_event(body), method="POST")
                    return urllib.request.Request(
                        f"{base}/lambda-url/{name}/graph/notifications?validationToken=hello",
                        data=b"", method="POST")

                fn_env = {} if name == "lambda-hello" else {
                    **env, **(swyx_env if name == "swyx-webhook" else {}),
                    "AWS_ENDPOINT_URL": endpoint, "GRAPH_JWKS_URL": issuer.jwks_url,
                    "GRAPH_AUTHORITY_URL": issuer.authority_url}
                calls = []  # (AWS calls, round trips, ms waited on them) per cold start
                samples = []
                for _ in range(args.runs):
                    before = proxy.requests if proxy else 0
                    if proxy:
                        proxy.take_round_trips(issuer.take_spans())
                    samples.append(one_cold_start(emulators[project], name, path, fn_env,
                                                  request(), tmp))
                    if proxy:
                        # Microsoft's keys are a wait too, and a call: counted with AWS's.
                        keys = issuer.take_spans()
                        trips, waited = proxy.take_round_trips(keys)
                        calls.append((proxy.requests - before + len(keys), trips, waited * 1000))
                aws = None
                if proxy:
                    aws = (statistics.median(c[0] for c in calls),
                           statistics.median(c[1] for c in calls),
                           statistics.median(c[2] for c in calls),
                           # the function's own time: its cold start less its wait on AWS
                           statistics.median(s[0] - c[2] for s, c in zip(samples, calls)))
                if row == "graph-webhook-notification":
                    dropped(os.path.join(tmp, f"{name}.log"))
                rows.append((row, os.path.getsize(path),
                             statistics.median(s[0] for s in samples),
                             max(s[1] for s in samples), aws,
                             statistics.median(s[2] for s in samples),
                             statistics.median(s[3] for s in samples)))
            if proxy:
                proxy.shutdown()
            results[label] = rows
    finally:
        issuer.close()
        for p in servers:
            p.kill()
            p.wait()

    for label, rows in results.items():
        hello_ms = rows[0][2]
        print(f"\nAWS calls answered by moto, {label}:")
        print(f"{'function':<26} {'binary MB':>10} {'cold start ms':>14} {'ratio':>6} "
              f"{'peak RSS MB':>12} {'AWS calls (round trips)':>24} {'AWS wait ms':>12} "
              f"{'own ms':>7} {'own ratio':>10} {'CPU ms':>7} {'CPU ratio':>10} "
              f"{'page faults':>12}")
        hello_cpu = rows[0][5]
        for name, size, ms, rss, aws, cpu, faults in rows:
            calls = wait = own = own_ratio = ""
            if aws is not None:
                calls = f"{aws[0]:g} ({aws[1]:g})"
                wait, own, own_ratio = f"{aws[2]:.1f}", f"{aws[3]:.1f}", f"{aws[3] / hello_ms:.2f}"
            print(f"{name:<26} {size / 1e6:>10.2f} {ms:>14.1f} {ms / hello_ms:>6.2f} "
                  f"{rss / 1024:>12.1f} {calls:>24} {wait:>12} {own:>7} {own_ratio:>10} "
                  f"{cpu:>7.2f} {cpu / hello_cpu:>10.2f} {faults:>12g}")
    print(f"(median of {args.runs} cold starts each, first event answered; AWS calls and wait "
          "include the fetch of Microsoft's signing keys (graph-webhook-notification), not "
          "delayed; AWS wait = the time some request was held or answered, own = cold start "
          "less AWS wait, its ratio to hello-world's cold start; CPU = the process's time on a "
          "CPU, all threads, to its answer, and its ratio to hello-world's; page faults = minor "
          "faults to its answer; peak RSS = max VmHWM; logs in "
          f"{tmp})")
    # Other builds on the machine move these figures by milliseconds: say how busy it was.
    print(f"load average before: {load_before}, at the end: {load_average()}")

    def summary(rows, own=False):
        hello_ms = rows[0][2]
        return " ".join(f"{name}={(aws[3] if own else ms) / hello_ms:.2f}"
                        for name, _, ms, _, aws, _, _ in rows[1:])

    rows = results[passes[0][0]]
    line = f"cold-start: {summary(rows)} (ratio to hello-world, {rows[0][2]:.1f} ms)"
    line += f"; net of the AWS wait: {summary(results[passes[1][0]], own=True)}"
    if len(passes) > 2:
        line += f"; with {passes[2][1]:g} ms per AWS call: {summary(results[passes[2][0]])}"
    rss = " ".join(f"{name}={rss / 1024:.1f}" for name, _, _, rss, _, _, _ in rows)
    print(f"{line}, peak RSS MiB {rss}")


if __name__ == "__main__":
    main()
