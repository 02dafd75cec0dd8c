"""A tiny HTTP server on loopback for tests that put HAProxy in front of something: it answers every GET with
a body the test chooses (its name by default), so a request through HAProxy shows which server took it.

Not a stand-in for any API (tests/dataplane-sim, tests/kube-sim are those)."""
import http.server
import threading


class Backend:
    """Serves on host:<port> (a loopback address, 127.0.0.1 unless given) until close(); answer(request) -> str
    is the body of each GET (the request is the handler: .path, .headers)."""

    def __init__(self, name, answer=None, host="127.0.0.1"):
        self.name, self.host = name, host
        answer = answer or (lambda request: name)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = answer(self).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()
