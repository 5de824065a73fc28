"""A local test platform: the subset of the X (Twitter) API v2 and the Tumblr API v2 that the posters use, with
the OAuth 1.0a endpoints of the PIN flow, every signature verified by oauthlib's server-side endpoints.

    with PlatformServer() as server:                       # 127.0.0.1, a free port; tests use the fixture
        server.twitter_api_url    http://127.0.0.1:PORT/x        X API base (OAuth endpoints under it too)
        server.tumblr_api_url     http://127.0.0.1:PORT/tumblr   Tumblr API base
        server.tumblr_oauth_url   http://127.0.0.1:PORT/tumblr   Tumblr OAuth base (same prefix here)
        server.twitter_credentials, server.tumblr_credentials    pre-issued OAuth1Credentials (random test keys)
        server.twitter_user       TwitterUser(id, name, username)   the one X account ("lorecast_test")
        server.tumblr_blog        "lorecast-test"                   the one Tumblr blog

Platform names in this API: "twitter" (alias "x") and "tumblr". Each platform has one consumer key and one
account; every access token of that platform (the pre-issued one and those the PIN flow issues) acts as it.

Where each part is written down (and implemented):
    server.py   PlatformServer: the HTTP server, routing by prefix, signature checks, faults, the request log
    oauth1.py   OAuth 1.0a: what is signed, nonces and timestamps, the PIN flow, the 401s
    base.py     what both platforms share: posts, replies, rate-limit windows, the token endpoints
    x.py        X, under /x: tweets, users, lookups, weighted length, x-rate-limit-* headers
    tumblr.py   Tumblr, under /tumblr: NPF posts, listings, the daily post limit, X-Ratelimit-* headers
    faults.py   Status, RateLimit, Duplicate, Slow, DropAfterAccept for `server.inject(...)`

Inspection: `server.posts(platform, account=None)` (Post objects, oldest first; account defaults to the test
account), `server.set_engagement(platform, post_id, **counts)` (X: like_count, retweet_count, reply_count,
quote_count, impression_count; Tumblr: note_count), `server.requests` (Logged(method, path, signed_ok) for every
request, path with the prefix and without the query; the authorize page logs signed_ok False).
"""

from .base import Post
from .faults import DropAfterAccept, Duplicate, Fault, RateLimit, Slow, Status
from .server import Logged, PlatformServer
from .x import TwitterUser, weighted_length

__all__ = [
    "DropAfterAccept", "Duplicate", "Fault", "Logged", "PlatformServer", "Post", "RateLimit", "Slow", "Status",
    "TwitterUser", "weighted_length",
]
