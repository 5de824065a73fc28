"""A local test platform: the subset of the X (Twitter) API v2 and the Tumblr API v2 that the posters use, with
the OAuth 1.0a sign-in endpoints (X: the PIN flow; Tumblr: the redirect to the app's callback URL, no PIN page),
every signature verified by oauthlib's server-side endpoints.

    with PlatformServer() as server:                       # 127.0.0.1, a free port; tests use the fixture
        server.twitter_api_url    http://127.0.0.1:PORT/x        X API base (OAuth endpoints under it too)
        server.tumblr_api_url     http://127.0.0.1:PORT/tumblr   Tumblr API base
        server.tumblr_oauth_url   http://127.0.0.1:PORT/tumblr   Tumblr OAuth base (same prefix here)
        server.twitter_credentials, server.tumblr_credentials    pre-issued OAuth1Credentials (random test keys)
        server.twitter_user       TwitterUser(id, name, username)   the X test account ("lorecast_test")
        server.tumblr_blog        "lorecast-test"                   the one Tumblr blog
        server.tumblr_callback_url  the Tumblr app's registered callback URL (None: not set, every request token
                                  refused); a test sets it to its listener's URL

Platform names in this API: "twitter" (alias "x") and "tumblr". Each platform has one consumer key and one
account; every access token of that platform (the pre-issued one and those the sign-in issues) acts as it.
X has other users besides, for mentions and replies:
    server.add_twitter_user(username, name=None) -> TwitterUser     another X user (the existing one by that name)
    server.twitter_credentials_for(username) -> OAuth1Credentials   a token acting as that user (a second bot)
    server.add_mention(author_username, text, in_reply_to=None, of=None) -> str   a tweet by that user naming
                              "@of" (default: the test account; put in front when the text lacks it), a reply to
                              tweet `in_reply_to` when set; its id
A tweet whose text names "@username" of an X user here is a mention of that user, whoever posted it (so two
bots mention each other by posting), and GET /2/users/:id/mentions lists it.

Sign-in (details in oauth1.py): X takes oauth_callback=oob and its authorize page shows a PIN
(`server.pin_for(request_token)` reads it as the user would). Tumblr takes only oauth_callback=
`server.tumblr_callback_url`, and GET /tumblr/oauth/authorize answers 302 to that URL with oauth_token and
oauth_verifier, as if the user had clicked Allow; `server.tumblr_user_denies = True` makes the user click Deny
(302 to the bare callback URL).

Where each part is written down (and implemented):
    server.py   PlatformServer: the HTTP server, routing by prefix, signature checks, faults, the request log
    oauth1.py   OAuth 1.0a: what is signed, nonces and timestamps, the sign-in endpoints, the 401s
    base.py     what both platforms share: posts, replies, rate-limit windows, the token endpoints
    x.py        X, under /x: tweets and replies, users, timelines, mentions, lookups, weighted length,
                x-rate-limit-* headers, the PIN page
    tumblr.py   Tumblr, under /tumblr: NPF posts, listings, the daily post limit, X-Ratelimit-* headers, the
                authorize redirect
    faults.py   Status, RateLimit, Duplicate, Slow, LateAccept, DropAfterAccept for `server.inject(...)`

Inspection: `server.posts(platform, account=None)` (Post objects, oldest first; account defaults to the test
account; an X reply's Post has in_reply_to and conversation_id), `server.set_engagement(platform, post_id,
**counts)` (X: like_count, retweet_count, reply_count, quote_count, impression_count; Tumblr: note_count),
`server.requests` (Logged(method, path, signed_ok) for every request, path with the prefix and without the query;
the authorize step logs signed_ok False).
"""

from .base import Post
from .faults import DropAfterAccept, Duplicate, Fault, LateAccept, RateLimit, Slow, Status
from .server import Logged, PlatformServer
from .x import TwitterUser, weighted_length

__all__ = [
    "DropAfterAccept", "Duplicate", "Fault", "LateAccept", "Logged", "PlatformServer", "Post", "RateLimit", "Slow",
    "Status", "TwitterUser", "weighted_length",
]
