"""Mastodon's OAuth 2 sign-in with the out-of-band redirect: how an account owner gives lorecast a user token.

    app = register_app("https://mastodon.example")    # POST /api/v1/apps {client_name: "lorecast",
                                                      #   redirect_uris: OOB, scopes: "read write:statuses"}
                                                      #   -> {"client_id", "client_secret", ...}
    url = authorize_url(app)     # GET /oauth/authorize?response_type=code&client_id=..&redirect_uri=OOB&scope=..
                                 # the owner opens it, approves, and the instance shows a code
                                 # (on /oauth/authorize/native?code=CODE)
    token = exchange_code(app, pasted)   # POST /oauth/token grant_type=authorization_code -> {"access_token",
                                         #   "token_type": "Bearer", "scope", "created_at"}

Apps are registered per instance; an app registered before (its client id and secret) can be reused with
`MastodonApp(instance_url, client_id, client_secret)`. What the owner pastes may be the code itself or the URL
the browser ended on (its ?code= is taken; an ?error= there, e.g. access_denied, is reported as such).

Failures raise PinFlowError, one line with no client secret, code or token in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from lorecast.errors import PinFlowError
from poster.credentials import one_line
from poster.platforms.mastodon import error_reason
from poster.responses import excerpt, json_body, network_reason

OOB = "urn:ietf:wg:oauth:2.0:oob"  # the instance shows the code instead of redirecting
SCOPES = "read write:statuses"
CLIENT_NAME = "lorecast"


@dataclass(frozen=True)
class MastodonApp:
    instance_url: str
    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class MastodonToken:
    access_token: str = field(repr=False)
    scope: str


def register_app(instance_url: str, website: str | None = None, timeout: float = 30.0) -> MastodonApp:
    """Register lorecast as an app on the instance (one per instance is enough: its id and secret can be kept)."""
    instance_url = instance_url.rstrip("/")
    form = {"client_name": CLIENT_NAME, "redirect_uris": OOB, "scopes": SCOPES, **({"website": website}
                                                                                    if website else {})}
    document = _post(f"{instance_url}/api/v1/apps", form, "register the app", timeout, ())
    client_id, client_secret = document.get("client_id"), document.get("client_secret")
    if not isinstance(client_id, str) or not isinstance(client_secret, str) or not client_id or not client_secret:
        raise PinFlowError(f"{instance_url}/api/v1/apps answered without client_id and client_secret (is this a "
                           "Mastodon instance?)")
    return MastodonApp(instance_url, client_id, client_secret)


def authorize_url(app: MastodonApp) -> str:
    """Where the account owner approves the app; the instance then shows the code to paste."""
    query = {"response_type": "code", "client_id": app.client_id, "redirect_uri": OOB, "scope": SCOPES}
    return f"{app.instance_url}/oauth/authorize?{urlencode(query)}"


def code_from(pasted: str) -> str:
    """The authorization code in what the owner pasted: the code, or the URL the browser was sent to."""
    pasted = pasted.strip()
    if not pasted:
        raise PinFlowError("nothing pasted: paste the code the instance shows, or the URL your browser was sent to")
    if "://" not in pasted and "?" not in pasted:
        return pasted
    query = parse_qs(urlsplit(pasted).query)
    if "error" in query:
        description = (query.get("error_description") or [""])[0]
        raise PinFlowError(f"the instance did not authorize the app: {query['error'][0]}"
                           + (f" ({description})" if description else ""))
    codes = query.get("code")
    if not codes or not codes[0]:
        raise PinFlowError("the pasted URL has no ?code=: paste the code the instance shows, or the URL your "
                           "browser was sent to after approving")
    return codes[0]


def exchange_code(app: MastodonApp, pasted: str, timeout: float = 30.0) -> MastodonToken:
    """Trade the authorization code (or the URL holding it) for the account's access token."""
    code = code_from(pasted)
    form = {"grant_type": "authorization_code", "code": code, "client_id": app.client_id,
            "client_secret": app.client_secret, "redirect_uri": OOB, "scope": SCOPES}
    document = _post(f"{app.instance_url}/oauth/token", form, "the access token", timeout,
                     (app.client_id, app.client_secret, code),
                     hint="the code works once, for this app, within minutes: open the URL again for a new one")
    token = document.get("access_token")
    if not isinstance(token, str) or not token:
        raise PinFlowError(f"{app.instance_url}/oauth/token answered without an access_token")
    scope = document.get("scope")
    return MastodonToken(token, scope if isinstance(scope, str) else "")


def _post(url: str, form: dict[str, str], what: str, timeout: float, secrets: tuple[str, ...],
          hint: str | None = None) -> dict[str, Any]:
    try:
        response = requests.post(url, data=form, timeout=timeout)
    except requests.Timeout:
        raise PinFlowError(one_line(f"{url} did not answer within {timeout:g} s", secrets)) from None
    except requests.RequestException as error:
        raise PinFlowError(one_line(f"cannot ask {url} for {what}: {network_reason(error)}", secrets)) from None
    document = json_body(response)
    if response.status_code != 200:
        reason = error_reason(document) or excerpt(response)
        advice = f"; {hint}" if hint and response.status_code in (400, 401) else ""
        raise PinFlowError(one_line(f"{url} refused {what} (HTTP {response.status_code}): {reason}{advice}",
                                    secrets))
    if not isinstance(document, dict):
        raise PinFlowError(one_line(f"{url} answered with {excerpt(response)}, not a JSON object (is this a "
                                    "Mastodon instance?)", secrets))
    return document
