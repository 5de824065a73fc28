"""What the OAuth1 platforms (X, Tumblr) share: a signed session, one request with its network failures mapped to
PlatformError, and error messages that are one line, short, and free of the account's secrets; and what every
HTTP platform reads from headers (a number, a rate limit, when it resets).

    api = SignedApi("X", credentials, timeout=30.0)
    response = api.send("POST", url, json={"text": text})   # PlatformError(transient=True) when no answer came
    raise api.error(f"X answered HTTP {response.status_code}: {detail}", transient=True)

No retries here: whether to try again is the run's decision (poster/run.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, NamedTuple

import requests
from requests_oauthlib import OAuth1Session

from lorecast.errors import PlatformError
from poster.credentials import OAuth1Credentials, one_line
from poster.responses import network_reason


class SignedApi:
    """One account's OAuth1-signed HTTP session with one platform."""

    def __init__(self, label: str, credentials: OAuth1Credentials, timeout: float) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.label = label
        self.timeout = timeout
        self._secrets = credentials.secrets()
        self._session = OAuth1Session(
            credentials.consumer_key,
            client_secret=credentials.consumer_secret,
            resource_owner_key=credentials.access_token,
            resource_owner_secret=credentials.access_secret,
        )

    def __repr__(self) -> str:
        return f"SignedApi({self.label!r})"

    def send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """The platform's answer, whatever its status; PlatformError when none came.

        A JSON body (json=...) is sent unsigned, as OAuth1 signs only form bodies; query parameters are signed.
        """
        return answer(self._session, method, url, self.timeout, f"{self.label}: {method} {url}", self.error,
                      **kwargs)

    def error(self, message: str, kind: type[PlatformError] = PlatformError, **kwargs: Any) -> PlatformError:
        """`kind(message)` on one line, cut to a readable length, with every secret replaced by ***."""
        return kind(one_line(message, self._secrets), **kwargs)

    def close(self) -> None:
        self._session.close()


def answer(session: requests.Session, method: str, url: str, timeout: float, where: str,
           error: Callable[..., PlatformError], **kwargs: Any) -> requests.Response:
    """`session.request(...)`, whatever the status; when no answer came, `error(message, transient=...)` raised:
    transient for a timeout or a dropped connection (the request may have been carried out, a post published,
    so the run looks it up), not for a URL requests cannot use."""
    try:
        return session.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout:
        raise error(f"{where}: no answer within {timeout:g} s", transient=True) from None
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as failure:
        raise error(f"{where} failed: {network_reason(failure)}", transient=True) from None
    except requests.RequestException as failure:  # a URL requests cannot use, a broken answer
        raise error(f"{where} failed: {network_reason(failure)}") from None


class RateLimit(NamedTuple):
    """A platform's rate limit as its last answer's headers gave it."""

    limit: int
    remaining: int
    reset_at: float  # unix seconds


def header_number(response: requests.Response, name: str) -> float | None:
    """A numeric header's value; None when absent or not a number."""
    try:
        return float(response.headers[name])
    except (KeyError, ValueError):
        return None


def resets(reset_at: float | None) -> str:
    """", resets at 2025-01-01 12:00:00 UTC" for a rate limit's reset in unix seconds; "" when unknown."""
    if reset_at is None:
        return ""
    try:
        return datetime.fromtimestamp(reset_at, timezone.utc).strftime(", resets at %Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):  # a header far outside any calendar
        return f", resets at unix time {reset_at:g}"


