"""OAuth 1.0a as the test platform checks it: oauthlib's server-side endpoints over one platform's keys and tokens.

OAuth 1.0a (both platforms; HMAC-SHA1 and the other methods oauthlib knows)
    Every request except the authorize step must be signed. The signature base string is the method, the URL as
    the client used it (http://127.0.0.1:PORT/x/2/tweets?...) with its query, and a form-encoded body; a JSON body
    is not signed (requests-oauthlib does not sign it). Nonces are single use (a replay is refused), timestamps
    must be within 10 minutes. Key, token, nonce and verifier lengths may be 4 to 64 ASCII letters and digits.
    A request that is unsigned or wrongly signed gets the platform's 401:
        X       {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
        Tumblr  {"meta": {"status": 401, "msg": "Not Authorized"}, "response": [],
                 "errors": [{"title": "Not Authorized", "code": 0, "detail": "..."}]}
    Sign-in, under each prefix (/x/oauth/..., /tumblr/oauth/...):
        POST oauth/request_token   oauth_callback=C, where C is the one callback the platform accepts (any other,
            or none: 401): X "oob" (the PIN flow); Tumblr the app's registered callback URL
            (`server.tumblr_callback_url`, None until a test sets it: then every request token is refused).
            -> 200 oauth_token=..&oauth_token_secret=..&oauth_callback_confirmed=true
        GET  oauth/authorize?oauth_token=..   (unsigned: the user's browser, who "allows" the app at once; an
            unknown token: 400 HTML)
            X       -> 200 HTML showing a 7-digit PIN in <code id="pin">; `server.pin_for(request_token)` does
                       the same for a test and returns the PIN
            Tumblr  -> 302 Location: <callback>?oauth_token=..&oauth_verifier=.. (a random verifier, from
                       oauthlib's AuthorizationEndpoint, stored with the request token). There is no PIN page.
                       With `server.tumblr_user_denies` set the user clicks Deny: 302 to the bare callback URL,
                       no oauth_token and no verifier (what clients of Tumblr have seen on a denial).
        POST oauth/access_token    signed with the request token, oauth_verifier=the PIN or verifier
            -> 200 oauth_token=..&oauth_token_secret=..&user_id=..&screen_name=..  (X)
               200 oauth_token=..&oauth_token_secret=..                          (Tumblr)
            The request token is then spent; the access token works on the API at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from oauthlib.oauth1 import RequestValidator, ResourceEndpoint


@dataclass
class RequestToken:
    consumer_key: str
    secret: str
    callback: str  # "oob" or the URL the authorize step sends the browser to
    verifier: str | None = None  # set once the user "authorized" it: X's PIN, Tumblr's oauth_verifier


class Validator(RequestValidator):
    """oauthlib's storage hooks over one platform's keys and tokens; called with the server's lock held."""

    # Plain http on loopback, and test keys of any length from 4 to 64 letters and digits.
    enforce_ssl = False
    client_key_length = request_token_length = access_token_length = (4, 64)
    nonce_length = verifier_length = (4, 64)
    # Stand-ins oauthlib signs with when a key is unknown, so that refusals take the same path as acceptances.
    dummy_client = "dummyclient"
    dummy_request_token = "dummyrequesttoken"
    dummy_access_token = "dummyaccesstoken"

    def __init__(self, consumer_key: str, consumer_secret: str, callback: str | None) -> None:
        super().__init__()
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.callback = callback  # the one oauth_callback a request token may have (None: none)
        self.request_tokens: dict[str, RequestToken] = {}
        self.access_tokens: dict[str, str] = {}  # token -> secret (all belong to the one consumer)
        self._nonces: set[tuple[str, str, str, str | None]] = set()

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return self.consumer_secret if client_key == self.consumer_key else "dummy"

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return client_key == self.consumer_key

    def get_request_token_secret(self, client_key: str, token: str, request: Any) -> str:
        held = self.request_tokens.get(token)
        return held.secret if held and held.consumer_key == client_key else "dummy"

    def validate_request_token(self, client_key: str, token: str, request: Any) -> bool:
        held = self.request_tokens.get(token)
        return held is not None and held.consumer_key == client_key

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        return self.access_tokens.get(token, "dummy")

    def validate_access_token(self, client_key: str, token: str, request: Any) -> bool:
        return token in self.access_tokens and client_key == self.consumer_key

    def validate_timestamp_and_nonce(
        self, client_key: str, timestamp: str, nonce: str, request: Any,
        request_token: str | None = None, access_token: str | None = None,
    ) -> bool:
        key = (client_key, timestamp, nonce, request_token or access_token)
        if key in self._nonces:
            return False
        self._nonces.add(key)
        return True

    def validate_redirect_uri(self, client_key: str, redirect_uri: str, request: Any) -> bool:
        return self.callback is not None and redirect_uri == self.callback

    def get_default_realms(self, client_key: str, request: Any) -> list[str]:
        return []

    def validate_requested_realms(self, client_key: str, realms: list[str], request: Any) -> bool:
        return True

    def get_realms(self, token: str, request: Any) -> list[str]:
        return []

    def validate_realms(self, client_key: str, token: str, request: Any, uri: Any = None, realms: Any = None) -> bool:
        return True

    def save_request_token(self, token: dict[str, str], request: Any) -> None:
        self.request_tokens[token["oauth_token"]] = RequestToken(
            request.client_key, token["oauth_token_secret"], request.redirect_uri
        )

    # The authorize step (oauthlib's AuthorizationEndpoint): the browser brings only the request token.
    def verify_request_token(self, token: str, request: Any) -> bool:
        return token in self.request_tokens

    def get_redirect_uri(self, token: str, request: Any) -> str:
        return self.request_tokens[token].callback

    def save_verifier(self, token: str, verifier: dict[str, str], request: Any) -> None:
        self.request_tokens[token].verifier = verifier["oauth_verifier"]

    def validate_verifier(self, client_key: str, token: str, verifier: str, request: Any) -> bool:
        held = self.request_tokens.get(token)
        return held is not None and held.verifier is not None and secrets.compare_digest(held.verifier, verifier)

    def save_access_token(self, token: dict[str, str], request: Any) -> None:
        self.access_tokens[token["oauth_token"]] = token["oauth_token_secret"]

    def invalidate_request_token(self, client_key: str, request_token: str, request: Any) -> None:
        self.request_tokens.pop(request_token, None)


def verify(resource: ResourceEndpoint, uri: str, method: str, body: str, headers: dict[str, str]) -> tuple[bool, str]:
    """(signature verified, the access token) for an API request."""
    try:
        valid, request = resource.validate_protected_resource_request(uri, method, body, headers)
    except ValueError:  # oauthlib refuses some malformed requests by raising
        return False, ""
    return valid, request.resource_owner_key if valid else ""
