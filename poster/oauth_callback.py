"""OAuth 1.0a with the callback to this machine: how a Tumblr account owner gives lorecast its access token and
secret. Tumblr has no PIN (`oob`) page: once the owner authorizes the app, it sends the browser to the app's
registered callback URL with `oauth_token` and `oauth_verifier` in the query.

    with CallbackFlow(consumer_key, consumer_secret, tumblr_endpoints(), port=8910) as flow:
        url = flow.start()        # 1. listen on http://127.0.0.1:8910/callback, then a signed POST to
                                  #    request_token with oauth_callback=that URL -> a request token
                                  # 2. the owner opens `url` and authorizes the app; Tumblr sends the browser to
                                  #    http://127.0.0.1:8910/callback?oauth_token=..&oauth_verifier=..
        token = flow.finish(sys.stdin, wait=300)
                                  # 3. the first of: the browser's request to the listener, or that address
                                  #    pasted on `pasted` (for a browser on another machine, where the redirect
                                  #    fails to load but the address bar has it); then a signed POST to
                                  #    access_token with its oauth_verifier -> AccessToken

The callback URL must equal the one registered for the app (www.tumblr.com/oauth/apps), or the request token is
refused. The listener serves one GET /callback, once, on 127.0.0.1 only (anything else: 404), and answers the
browser with a short page. The callback must hold this run's request token as oauth_token; one without
oauth_verifier, or with `denied`, is the owner's refusal. Failures raise PinFlowError, one line with no key,
secret, token or verifier in it.
"""

from __future__ import annotations

import html
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from lorecast.errors import PinFlowError
from poster.oauth_pin import AccessToken, OAuth1Flow, OAuthEndpoints

CALLBACK_PATH = "/callback"


def callback_url(port: int) -> str:
    """The URL the listener answers on: what the app must have registered as its callback."""
    return f"http://127.0.0.1:{port}{CALLBACK_PATH}"


@dataclass(frozen=True)
class _Outcome:
    """What came back: the verifier, or why there is none."""

    verifier: str | None = field(default=None, repr=False)
    error: PinFlowError | None = None


class CallbackFlow(OAuth1Flow):
    """One run of the callback flow for one app, with its own listener."""

    def __init__(self, consumer_key: str, consumer_secret: str, endpoints: OAuthEndpoints, port: int,
                 timeout: float = 30.0, label: str = "Tumblr") -> None:
        super().__init__(consumer_key, consumer_secret, endpoints, timeout=timeout)
        self.port, self.label = port, label
        self.callback_url = callback_url(port)
        self._outcomes: queue.Queue[_Outcome] = queue.Queue()
        self._listener: _Listener | None = None

    def __enter__(self) -> CallbackFlow:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> str:
        """Listen for the callback, get a request token for it; the URL where the owner authorizes the app."""
        # Listening first: a port in use fails here, before the platform is asked for anything.
        self._listener = _Listener(self.port, self._judge_callback, self._outcomes.put)
        try:
            return self.authorize_url(
                self.callback_url,
                f"check the consumer key and secret, and that the app's default callback URL is exactly "
                f"{self.callback_url}",
            )
        except BaseException:
            self.close()
            raise

    def finish(self, pasted: TextIO | None, wait: float) -> AccessToken:
        """The access token for the first verifier to come back, by the browser or pasted, within `wait` s."""
        if self._listener is None:
            raise RuntimeError("CallbackFlow.finish() before start()")
        if pasted is not None:
            # A daemon thread: a line may never come (the browser won), and the process must not wait for one.
            threading.Thread(target=self._read_pasted, args=(pasted,), name="oauth-paste", daemon=True).start()
        try:
            outcome = self._outcomes.get(timeout=wait)
        except queue.Empty:
            raise self.error(f"no authorization came back within {wait:g} s: the browser did not reach "
                             f"{self.callback_url} and no address was pasted") from None
        finally:
            self.close()
        if outcome.error is not None:
            raise outcome.error
        assert outcome.verifier is not None
        return self.access_token(outcome.verifier, "the verifier belongs to this run's request token and works once")

    def close(self) -> None:
        """Stop the listener (at once when nothing came back)."""
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    def _read_pasted(self, pasted: TextIO) -> None:
        for line in iter(pasted.readline, ""):
            text = line.strip()
            if not text:
                continue
            # The whole address from the browser, or only its query.
            query = urlsplit(text).query if "?" in text else text.split("#", 1)[0]
            params = parse_qs(query, keep_blank_values=True)
            if not {"oauth_token", "oauth_verifier", "denied"} & set(params):
                outcome = _Outcome(error=self.error(
                    f"the pasted line is not the address {self.label} sent the browser to (it has no "
                    f"oauth_token or oauth_verifier): paste the whole address of the page that did not load"))
            else:
                outcome = self._judge(params)
            self._outcomes.put(outcome)
            return

    def _judge_callback(self, query: str) -> _Outcome:
        return self._judge(parse_qs(query, keep_blank_values=True))

    def _judge(self, params: dict[str, list[str]]) -> _Outcome:
        token, verifier = (params.get(name, [""])[0] for name in ("oauth_token", "oauth_verifier"))
        if "denied" in params or not verifier:
            return _Outcome(error=self.error(
                f"the authorization was denied: {self.label} sent the browser back without oauth_verifier; run "
                f"the sign-in again and allow the app"))
        if token != self.request_token:
            return _Outcome(error=self.error(
                "the callback's oauth_token is not this run's request token (a page left from another run?): "
                "authorize with the URL this run printed"))
        return _Outcome(verifier)


_PAGE = "<!doctype html><html><head><title>lorecast</title></head><body><p>{}</p></body></html>"


class _Listener:
    """One GET /callback on 127.0.0.1:PORT, judged and answered with a short page; nothing else is served."""

    def __init__(self, port: int, judge: Callable[[str], _Outcome], deliver: Callable[[_Outcome], None]) -> None:
        try:
            self._server = _Server(("127.0.0.1", port), _CallbackHandler)
        except OSError as error:
            raise PinFlowError(f"cannot listen on 127.0.0.1:{port} for the callback: {error.strerror or error} "
                               f"(is another sign-in running?)") from None
        self._server.judge, self._server.deliver = judge, deliver
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="oauth-callback", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _Server(ThreadingHTTPServer):
    # Threads per connection: a browser's idle pre-opened connection must not hold up the real request.
    daemon_threads = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.judge: Callable[[str], _Outcome]
        self.deliver: Callable[[_Outcome], None]
        self.taken = False
        self.lock = threading.Lock()


class _CallbackHandler(BaseHTTPRequestHandler):
    timeout = 10  # a connection that sends nothing ends its thread

    def do_GET(self) -> None:
        server: _Server = self.server  # type: ignore[assignment]
        split = urlsplit(self.path)
        with server.lock:
            first = split.path == CALLBACK_PATH and not server.taken
            server.taken = server.taken or first
        if not first:
            self._page(404, "Nothing here.")
            return
        outcome = server.judge(split.query)
        try:
            if outcome.error is None:
                self._page(200, "lorecast has the authorization. You can close this tab.")
            else:
                self._page(400, f"lorecast did not get the authorization: {html.escape(str(outcome.error))}")
        finally:  # after the page is out: the process may end as soon as it has the outcome
            server.deliver(outcome)

    def _page(self, status: int, text: str) -> None:
        payload = _PAGE.format(text).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # the request line holds the verifier: no log
        pass
