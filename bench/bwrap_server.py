#!/usr/bin/env python3
"""The baseline a user would otherwise script: an HTTP server that runs an agent with
bubblewrap per request (stdin = the body, stdout = the answer). Usage:
    bwrap_server.py PORT AGENT_DIR COMMAND...
"""
import json
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, agent_dir, command = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
BWRAP = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session",
         "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
         "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev",
         "--tmpfs", "/tmp", "--ro-bind", agent_dir, "/home/user", "--chdir", "/home/user",
         "--setenv", "HOME", "/home/user", "--cap-drop", "ALL"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            run = subprocess.run(BWRAP + command, input=body, capture_output=True, timeout=30)
            data = json.loads(run.stdout or b"{}")
            out, status = json.dumps({"data": data, "warnings": [], "metadata": {}}).encode(), 200
        except Exception as e:  # noqa: BLE001 - a baseline, not a product
            out, status = json.dumps({"error": {"message": str(e)}}).encode(), 500
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # wrk closing its connections at the end is not an error worth a traceback


Server(("127.0.0.1", port), Handler).serve_forever()
