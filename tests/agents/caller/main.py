"""Calls other agents through the gateway (CONTRACT.md section 4), as its input says.

Input: {"calls": [{"method": "POST", "path": "/org/agent/v1/run", "body": {...},
                   "headers": {"Name": "value"}, "key": "..."}],   # key: default the service key
        "reveal_key": false,           # put the service key in the answer
        "probe_port": 8765}            # try a bare TCP connection to 127.0.0.1:<port>
Answer: what the agent was given (gateway URL, whether it has a key, hops, deadline, tenant)
and, per call, the HTTP status and the parsed answer.
"""
import json
import os
import socket
import sys
import urllib.error
import urllib.request


def call(spec):
    base = os.environ.get("ORCHAGENT_GATEWAY_URL", "http://127.0.0.1:8765")
    method = spec.get("method", "POST")
    data = json.dumps(spec.get("body", {})).encode() if method == "POST" else None
    request = urllib.request.Request(base + spec["path"], data=data, method=method)
    key = spec.get("key", os.environ.get("ORCHAGENT_SERVICE_KEY", ""))
    if key:
        request.add_header("Authorization", "Bearer " + key)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in spec.get("headers", {}).items():
        request.add_header(name, str(value))
    try:
        with urllib.request.urlopen(request, timeout=spec.get("timeout", 60)) as response:
            return {"status": response.status, "body": json.loads(response.read() or b"null")}
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        return {"status": e.code, "body": body}
    except Exception as e:  # no gateway, refused, reset: say what happened
        return {"status": 0, "error": type(e).__name__ + ": " + str(e)}


def probe(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
        return "connected"
    except OSError as e:
        return type(e).__name__
    finally:
        s.close()


def main():
    spec = json.load(sys.stdin)
    env = os.environ
    out = {
        "gateway_url": env.get("ORCHAGENT_GATEWAY_URL"),
        "has_key": "ORCHAGENT_SERVICE_KEY" in env,
        "max_hops": int(env.get("ORCHAGENT_MAX_HOPS", "-1")),
        "deadline_ms": int(env.get("ORCHAGENT_DEADLINE_MS", "0")),
        "tenant": env.get("ORCHAGENT_TENANT"),
        "results": [call(c) for c in spec.get("calls", [])],
    }
    if spec.get("reveal_key"):
        out["key"] = env.get("ORCHAGENT_SERVICE_KEY")
    if "probe_port" in spec:
        out["probe"] = probe(spec["probe_port"])
    json.dump(out, sys.stdout)


main()
