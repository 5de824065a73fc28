"""OAuth 1.0a sign-in: the token requests every flow shares (OAuth1Flow), and the PIN flow (out-of-band callback)
on top of them, which is how an X account owner gives lorecast its access token and secret.

    flow = PinFlow(consumer_key, consumer_secret, twitter_endpoints("https://api.x.com"))
    url = flow.start()           # 1. signed POST to request_token with oauth_callback=oob -> a request token
                                 # 2. the owner opens `url`, authorizes the app, and is shown a PIN
    token = flow.finish(pin)     # 3. signed POST to access_token with oauth_verifier=PIN -> AccessToken

Tumblr has no PIN page (it always sends the browser back to the app's registered callback URL): its flow is
poster/oauth_callback.py, on the same OAuth1Flow.

Endpoints: X has them under its API URL (https://api.x.com/oauth/request_token, /oauth/authorize,
/oauth/access_token); Tumblr under https://www.tumblr.com/oauth/... . Both answer the token requests with a form-
encoded body (oauth_token=...&oauth_token_secret=...; X adds user_id and screen_name).

Failures raise PinFlowError, one line with no key, secret, token or verifier in it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from requests_oauthlib import OAuth1Session
from requests_oauthlib.oauth1_session import TokenRequestDenied

from lorecast.errors import PinFlowError
from poster.credentials import one_line
from poster.responses import excerpt, json_body, network_reason


@dataclass(frozen=True)
class OAuthEndpoints:
    request_token_url: str
    authorize_url: str
    access_token_url: str


def twitter_endpoints(api_url: str = "https://api.x.com") -> OAuthEndpoints:
    return _endpoints_under(api_url)


def tumblr_endpoints(oauth_url: str = "https://www.tumblr.com") -> OAuthEndpoints:
    return _endpoints_under(oauth_url)


def _endpoints_under(base_url: str) -> OAuthEndpoints:
    base = base_url.rstrip("/")
    return OAuthEndpoints(f"{base}/oauth/request_token", f"{base}/oauth/authorize", f"{base}/oauth/access_token")


@dataclass(frozen=True)
class AccessToken:
    token: str = field(repr=False)
    secret: str = field(repr=False)
    screen_name: str | None = None  # the account that authorized, when the platform says (X does)


class OAuth1Flow:
    """One sign-in for one app (consumer key and secret): the request token, then the access token for the
    verifier the account owner's authorization gave. Subclasses say how the verifier comes back."""

    def __init__(self, consumer_key: str, consumer_secret: str, endpoints: OAuthEndpoints,
                 timeout: float = 30.0) -> None:
        self.endpoints = endpoints
        self.timeout = timeout
        self._consumer = (consumer_key, consumer_secret)
        self._request_token: tuple[str, str] | None = None
        self._secrets: tuple[str, ...] = (consumer_key, consumer_secret)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoints.request_token_url!r})"

    @property
    def request_token(self) -> str | None:
        """The oauth_token of this run's request token (None before it is fetched)."""
        return self._request_token[0] if self._request_token else None

    def authorize_url(self, callback: str, hint_401: str = "check the consumer key and secret") -> str:
        """Get a request token for `callback` ("oob" or a URL); the URL where the owner authorizes the app."""
        session = OAuth1Session(self._consumer[0], client_secret=self._consumer[1], callback_uri=callback)
        token = self._fetch(session.fetch_request_token, self.endpoints.request_token_url, "a request token",
                            hint_401)
        self._request_token = (token["oauth_token"], token.get("oauth_token_secret", ""))
        self._secrets += self._request_token
        return session.authorization_url(self.endpoints.authorize_url)

    def access_token(self, verifier: str, hint_401: str) -> AccessToken:
        """Trade the verifier and the request token for the account's access token."""
        if self._request_token is None:
            raise RuntimeError(f"{type(self).__name__}: the access token asked for before the request token")
        self._secrets += (verifier,)
        session = OAuth1Session(
            self._consumer[0], client_secret=self._consumer[1],
            resource_owner_key=self._request_token[0], resource_owner_secret=self._request_token[1],
            verifier=verifier,
        )
        token = self._fetch(session.fetch_access_token, self.endpoints.access_token_url, "the access token",
                            hint_401)
        secret = token.get("oauth_token_secret")
        if not secret:
            raise self.error(f"{self.endpoints.access_token_url} answered without oauth_token_secret")
        return AccessToken(token["oauth_token"], secret, token.get("screen_name"))

    def _fetch(self, fetch: Callable[..., dict[str, str]], url: str, what: str, hint_401: str) -> dict[str, str]:
        try:
            return fetch(url, timeout=self.timeout)
        except TokenRequestDenied as denied:
            hint = f"; {hint_401}" if denied.status_code == 401 else ""
            raise self.error(f"{url} refused {what} (HTTP {denied.status_code}{hint}): "
                             f"{_reason_given(denied.response)}") from None
        except requests.Timeout:
            raise self.error(f"{url} did not answer within {self.timeout:g} s") from None
        except requests.RequestException as error:
            raise self.error(f"cannot ask {url} for {what}: {network_reason(error)}") from None
        except ValueError:  # a body that is not form-encoded, or one without oauth_token (TokenMissing)
            raise self.error(f"{url} answered without a token (is this the platform's OAuth URL?)") from None

    def error(self, message: str) -> PinFlowError:
        """A PinFlowError of one line, without the keys, tokens or verifier of this run."""
        return PinFlowError(one_line(message, self._secrets))


class PinFlow(OAuth1Flow):
    """One run of the PIN flow: the platform shows the owner a PIN (the verifier) after the authorization."""

    def start(self) -> str:
        """Get a request token; the URL where the account owner authorizes the app and is shown the PIN."""
        return self.authorize_url("oob")

    def finish(self, pin: str) -> AccessToken:
        """Trade the PIN (the oauth_verifier) and the request token for the account's access token."""
        pin = pin.strip()
        if not pin:
            raise PinFlowError("no PIN given: it is the number shown after authorizing the app")
        return self.access_token(pin, "check the PIN: it belongs to the URL of this run and works once")


def _reason_given(response: requests.Response) -> str:
    """The reason in a refusal: X's problem "detail", Tumblr's errors[].detail, else the start of the body."""
    document = json_body(response)
    if isinstance(document, dict):
        errors = document.get("errors")
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        for reason in (first.get("detail"), first.get("message"), document.get("detail"), document.get("title")):
            if isinstance(reason, str) and reason:
                return reason
    return excerpt(response)
