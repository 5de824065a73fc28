"""The test platform server, driven as a real client drives X and Tumblr: requests-oauthlib signing."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from platform_server import (
    DropAfterAccept,
    Duplicate,
    Logged,
    PlatformServer,
    RateLimit,
    Slow,
    Status,
    weighted_length,
)
from requests_oauthlib import OAuth1, OAuth1Session

from poster.credentials import OAuth1Credentials


def session(credentials: OAuth1Credentials) -> OAuth1Session:
    return OAuth1Session(
        credentials.consumer_key, credentials.consumer_secret, credentials.access_token, credentials.access_secret
    )


@pytest.fixture
def x(platform_server: PlatformServer) -> OAuth1Session:
    return session(platform_server.twitter_credentials)


@pytest.fixture
def tumblr(platform_server: PlatformServer) -> OAuth1Session:
    return session(platform_server.tumblr_credentials)


def tweet(server: PlatformServer, client: requests.Session, text: str, **kwargs: object) -> requests.Response:
    return client.post(f"{server.twitter_api_url}/2/tweets", json={"text": text}, **kwargs)  # type: ignore[arg-type]


def blog_post(server: PlatformServer, client: requests.Session, text: str, **fields: object) -> requests.Response:
    url = f"{server.tumblr_api_url}/v2/blog/{server.tumblr_blog}/posts"
    return client.post(url, json={"content": [{"type": "text", "text": text}], **fields})


# --- signatures ---------------------------------------------------------------------------------------------------


def test_a_signed_tweet_is_created_and_logged(platform_server: PlatformServer, x: OAuth1Session) -> None:
    response = tweet(platform_server, x, "hello from a test")

    assert response.status_code == 201
    data = response.json()["data"]
    assert data["text"] == "hello from a test" and data["id"].isdigit()
    [post] = platform_server.posts("twitter")
    assert (post.id, post.text, post.account) == (data["id"], "hello from a test", "lorecast_test")
    assert platform_server.requests == [("POST", "/x/2/tweets", True)]


def test_an_unsigned_request_gets_each_platforms_401(platform_server: PlatformServer) -> None:
    unsigned = requests.post(f"{platform_server.twitter_api_url}/2/tweets", json={"text": "sneaky"})
    assert unsigned.status_code == 401
    assert unsigned.json() == {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}

    unsigned = requests.get(f"{platform_server.tumblr_api_url}/v2/blog/{platform_server.tumblr_blog}/posts")
    assert unsigned.status_code == 401
    body = unsigned.json()
    assert body["meta"] == {"status": 401, "msg": "Not Authorized"} and body["response"] == []
    assert body["errors"][0]["title"] == "Not Authorized"

    assert platform_server.posts("twitter") == []
    assert [logged.signed_ok for logged in platform_server.requests] == [False, False]


@pytest.mark.parametrize("wrong", ["consumer_secret", "access_secret", "access_token", "consumer_key"])
def test_a_wrong_key_or_secret_gets_401(platform_server: PlatformServer, wrong: str) -> None:
    keys = platform_server.twitter_credentials.__dict__ | {wrong: "wrongValue1234"}
    response = tweet(platform_server, session(OAuth1Credentials(**keys)), "signed with a wrong key")

    assert response.status_code == 401
    assert platform_server.posts("twitter") == []


def test_the_keys_of_one_platform_do_not_open_the_other(platform_server: PlatformServer) -> None:
    response = blog_post(platform_server, session(platform_server.twitter_credentials), "wrong platform")
    assert response.status_code == 401


def test_a_replayed_nonce_gets_401(platform_server: PlatformServer) -> None:
    keys = platform_server.twitter_credentials
    auth = OAuth1(keys.consumer_key, keys.consumer_secret, keys.access_token, keys.access_secret)
    signed = requests.Request("GET", f"{platform_server.twitter_api_url}/2/users/me", auth=auth).prepare()

    with requests.Session() as client:
        first, replay = client.send(signed), client.send(signed)

    assert (first.status_code, replay.status_code) == (200, 401)


def test_the_query_is_part_of_the_signature(platform_server: PlatformServer) -> None:
    keys = platform_server.twitter_credentials
    auth = OAuth1(keys.consumer_key, keys.consumer_secret, keys.access_token, keys.access_secret)
    signed = requests.Request(
        "GET", f"{platform_server.twitter_api_url}/2/tweets", params={"ids": "1"}, auth=auth
    ).prepare()
    signed.url = signed.url.replace("ids=1", "ids=2")  # type: ignore[union-attr]

    with requests.Session() as client:
        assert client.send(signed).status_code == 401


# --- sign-in: X's PIN flow, Tumblr's redirect to the callback ------------------------------------------------


def pin_flow(server: PlatformServer, base_url: str, keys: OAuth1Credentials) -> tuple[dict[str, str], str]:
    """Request token, authorize page, access token: (the access token response, the page's HTML)."""
    temporary = OAuth1Session(keys.consumer_key, keys.consumer_secret, callback_uri="oob")
    request_token = temporary.fetch_request_token(f"{base_url}/oauth/request_token")
    assert request_token["oauth_callback_confirmed"] == "true"
    page = requests.get(f"{base_url}/oauth/authorize", params={"oauth_token": request_token["oauth_token"]})
    pin = server.pin_for(request_token["oauth_token"])
    exchange = OAuth1Session(
        keys.consumer_key, keys.consumer_secret, request_token["oauth_token"], request_token["oauth_token_secret"],
        verifier=pin,
    )
    return exchange.fetch_access_token(f"{base_url}/oauth/access_token"), page.text


def test_the_x_pin_flow_issues_a_token_that_works(platform_server: PlatformServer) -> None:
    keys = platform_server.twitter_credentials
    access, page = pin_flow(platform_server, platform_server.twitter_api_url, keys)

    assert set(access) == {"oauth_token", "oauth_token_secret", "user_id", "screen_name"}
    assert (access["user_id"], access["screen_name"]) == (platform_server.twitter_user.id, "lorecast_test")
    assert access["oauth_token"] != keys.access_token
    issued = OAuth1Credentials(keys.consumer_key, keys.consumer_secret, access["oauth_token"],
                               access["oauth_token_secret"])
    me = session(issued).get(f"{platform_server.twitter_api_url}/2/users/me")
    assert me.status_code == 200 and me.json()["data"]["username"] == "lorecast_test"
    assert '<code id="pin">' in page


def test_the_x_authorize_page_shows_the_pin(platform_server: PlatformServer) -> None:
    keys = platform_server.twitter_credentials
    temporary = OAuth1Session(keys.consumer_key, keys.consumer_secret, callback_uri="oob")
    token = temporary.fetch_request_token(f"{platform_server.twitter_api_url}/oauth/request_token")["oauth_token"]

    page = requests.get(f"{platform_server.twitter_api_url}/oauth/authorize", params={"oauth_token": token})

    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert f'<code id="pin">{platform_server.pin_for(token)}</code>' in page.text
    unknown = requests.get(f"{platform_server.twitter_api_url}/oauth/authorize", params={"oauth_token": "nope1234"})
    assert unknown.status_code == 400


def test_a_wrong_pin_a_spent_token_and_a_callback_url_are_refused(platform_server: PlatformServer) -> None:
    keys, base = platform_server.twitter_credentials, platform_server.twitter_api_url
    temporary = OAuth1Session(keys.consumer_key, keys.consumer_secret, callback_uri="oob")
    token = temporary.fetch_request_token(f"{base}/oauth/request_token")
    pin = platform_server.pin_for(token["oauth_token"])

    def exchange(verifier: str) -> requests.Response:
        client = OAuth1Session(keys.consumer_key, keys.consumer_secret, token["oauth_token"],
                               token["oauth_token_secret"], verifier=verifier)
        return client.post(f"{base}/oauth/access_token")

    wrong_pin = str((int(pin) + 1) % 10**7).zfill(7)
    assert exchange(wrong_pin).status_code == 401
    assert exchange(pin).status_code == 200
    spent = exchange(pin)
    assert spent.status_code == 401 and spent.json()["status"] == 401

    with_callback = OAuth1Session(keys.consumer_key, keys.consumer_secret, callback_uri="https://example.org/cb")
    assert with_callback.post(f"{base}/oauth/request_token").status_code == 401


TUMBLR_CALLBACK = "http://127.0.0.1:8910/callback"  # nothing need listen: the tests below read the redirect


def tumblr_request_token(server: PlatformServer, callback: str = TUMBLR_CALLBACK) -> requests.Response:
    keys = server.tumblr_credentials
    temporary = OAuth1Session(keys.consumer_key, keys.consumer_secret, callback_uri=callback)
    return temporary.post(f"{server.tumblr_oauth_url}/oauth/request_token")


def tumblr_authorize(server: PlatformServer, request_token: str) -> requests.Response:
    """The user's browser on the authorize URL, not following the redirect."""
    return requests.get(f"{server.tumblr_oauth_url}/oauth/authorize", params={"oauth_token": request_token},
                        allow_redirects=False)


def test_the_tumblr_callback_flow_issues_a_token_that_posts(platform_server: PlatformServer) -> None:
    platform_server.tumblr_callback_url = TUMBLR_CALLBACK
    keys = platform_server.tumblr_credentials
    answer = tumblr_request_token(platform_server)
    assert answer.status_code == 200
    request_token = dict(parse_qs(answer.text, strict_parsing=True))
    assert request_token["oauth_callback_confirmed"] == ["true"]
    token, token_secret = request_token["oauth_token"][0], request_token["oauth_token_secret"][0]

    redirect = tumblr_authorize(platform_server, token)

    assert redirect.status_code == 302
    location = urlsplit(redirect.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == TUMBLR_CALLBACK
    query = parse_qs(location.query)
    assert query["oauth_token"] == [token] and set(query) == {"oauth_token", "oauth_verifier"}
    verifier = query["oauth_verifier"][0]

    def exchange(with_verifier: str) -> requests.Response:
        client = OAuth1Session(keys.consumer_key, keys.consumer_secret, token, token_secret, verifier=with_verifier)
        return client.post(f"{platform_server.tumblr_oauth_url}/oauth/access_token")

    assert exchange(verifier[::-1]).status_code == 401
    access = exchange(verifier)
    assert access.status_code == 200
    issued = dict(parse_qs(access.text))
    assert set(issued) == {"oauth_token", "oauth_token_secret"}
    assert exchange(verifier).status_code == 401  # spent
    credentials = OAuth1Credentials(keys.consumer_key, keys.consumer_secret, issued["oauth_token"][0],
                                    issued["oauth_token_secret"][0])
    assert blog_post(platform_server, session(credentials), "posted with a callback token").status_code == 201


def test_tumblr_has_no_pin_page(platform_server: PlatformServer) -> None:
    platform_server.tumblr_callback_url = TUMBLR_CALLBACK
    token = dict(parse_qs(tumblr_request_token(platform_server).text))["oauth_token"][0]

    answer = tumblr_authorize(platform_server, token)

    # A redirect to the app, never a page with something to type in.
    assert answer.status_code == 302 and answer.headers["Location"].startswith(TUMBLR_CALLBACK + "?")
    assert "pin" not in answer.text.lower()
    with pytest.raises(KeyError):
        platform_server.pin_for(token)
    assert tumblr_authorize(platform_server, "nope1234").status_code == 400


@pytest.mark.parametrize("callback", ["oob", "http://127.0.0.1:8911/callback", "https://example.org/callback"])
def test_tumblr_refuses_oob_and_any_other_callback(platform_server: PlatformServer, callback: str) -> None:
    platform_server.tumblr_callback_url = TUMBLR_CALLBACK

    refused = tumblr_request_token(platform_server, callback)

    assert refused.status_code == 401
    assert refused.json()["meta"] == {"status": 401, "msg": "Not Authorized"}
    assert tumblr_request_token(platform_server).status_code == 200


def test_tumblr_refuses_every_callback_until_one_is_registered(platform_server: PlatformServer) -> None:
    assert platform_server.tumblr_callback_url is None
    assert tumblr_request_token(platform_server).status_code == 401
    with pytest.raises(ValueError, match="oob"):
        platform_server.tumblr_callback_url = "oob"


def test_a_tumblr_denial_sends_the_browser_back_without_a_verifier(platform_server: PlatformServer) -> None:
    platform_server.tumblr_callback_url = TUMBLR_CALLBACK
    platform_server.tumblr_user_denies = True
    keys = platform_server.tumblr_credentials
    request_token = dict(parse_qs(tumblr_request_token(platform_server).text))
    token, token_secret = request_token["oauth_token"][0], request_token["oauth_token_secret"][0]

    denied = tumblr_authorize(platform_server, token)

    assert denied.status_code == 302 and denied.headers["Location"] == TUMBLR_CALLBACK
    guess = OAuth1Session(keys.consumer_key, keys.consumer_secret, token, token_secret, verifier="guessed1234")
    assert guess.post(f"{platform_server.tumblr_oauth_url}/oauth/access_token").status_code == 401


# --- X ----------------------------------------------------------------------------------------------------------


def test_the_same_text_twice_is_a_duplicate(platform_server: PlatformServer, x: OAuth1Session) -> None:
    assert tweet(platform_server, x, "only once").status_code == 201
    again = tweet(platform_server, x, "only once")

    assert again.status_code == 403
    assert again.json() == {
        "detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank",
        "title": "Forbidden", "status": 403,
    }
    assert len(platform_server.posts("x")) == 1


@pytest.mark.parametrize(("text", "expected"), [
    ("hello", 5),
    ("日本語", 6),
    ("“quoted” — dash", 15),  # General Punctuation quotes and dashes count 1
    ("see https://example.org/" + "a" * 300 + " now", 4 + 23 + 4),
    ("ok 👍🏽", 5),  # a skin-toned emoji counts as one
    ("👨‍👩‍👧", 2),  # a zero-width-joined family counts as one
    ("🇫🇷", 2),  # a flag counts as one
])
def test_weighted_length(text: str, expected: int) -> None:
    assert weighted_length(text) == expected


def test_a_text_over_280_weighted_characters_is_refused(platform_server: PlatformServer, x: OAuth1Session) -> None:
    assert tweet(platform_server, x, "字" * 140).status_code == 201
    too_long = tweet(platform_server, x, "語" * 141)

    assert too_long.status_code == 400
    assert too_long.json()["title"] == "Invalid Request" and "282" in too_long.json()["errors"][0]["message"]
    assert tweet(platform_server, x, "x" * 250 + " https://example.org/" + "p" * 100).status_code == 201


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "   "}, {"status": "old field"}, {"text": "hi", "extra": 1}])
def test_a_bad_tweet_body_is_400(platform_server: PlatformServer, x: OAuth1Session, body: dict) -> None:
    response = x.post(f"{platform_server.twitter_api_url}/2/tweets", json=body)

    assert response.status_code == 400 and response.json()["title"] == "Invalid Request"


def test_users_me_and_the_timeline_newest_first(platform_server: PlatformServer, x: OAuth1Session) -> None:
    me = x.get(f"{platform_server.twitter_api_url}/2/users/me").json()["data"]
    ids = [tweet(platform_server, x, f"tweet {index}").json()["data"]["id"] for index in range(7)]
    timeline_url = f"{platform_server.twitter_api_url}/2/users/{me['id']}/tweets"

    first = x.get(timeline_url, params={"max_results": 5}).json()
    second = x.get(timeline_url, params={"max_results": 5, "pagination_token": first["meta"]["next_token"]}).json()

    assert me == {"id": platform_server.twitter_user.id, "name": "Lorecast Test", "username": "lorecast_test"}
    assert [item["id"] for item in first["data"] + second["data"]] == ids[::-1]
    assert first["meta"]["result_count"] == 5 and first["meta"]["newest_id"] == ids[-1]
    assert "next_token" not in second["meta"] and second["meta"]["oldest_id"] == ids[0]
    assert x.get(timeline_url, params={"max_results": 4}).status_code == 400
    assert x.get(timeline_url, params={"max_results": 101}).status_code == 400


def test_lookup_with_public_metrics(platform_server: PlatformServer, x: OAuth1Session) -> None:
    liked = tweet(platform_server, x, "liked one").json()["data"]["id"]
    quiet = tweet(platform_server, x, "quiet one").json()["data"]["id"]
    platform_server.set_engagement("twitter", liked, like_count=7, retweet_count=2, impression_count=90)
    lookup_url = f"{platform_server.twitter_api_url}/2/tweets"

    answer = x.get(lookup_url, params={"ids": f"{quiet},{liked},123", "tweet.fields": "public_metrics"}).json()

    assert [item["id"] for item in answer["data"]] == [quiet, liked]
    assert answer["data"][1]["public_metrics"] == {
        "retweet_count": 2, "reply_count": 0, "like_count": 7, "quote_count": 0, "impression_count": 90,
    }
    assert [(error["resource_id"], error["title"]) for error in answer["errors"]] == [("123", "Not Found Error")]
    assert "public_metrics" not in x.get(lookup_url, params={"ids": liked}).json()["data"][0]
    assert "data" not in x.get(lookup_url, params={"ids": "9"}).json()


def test_lookup_refuses_more_than_100_ids(platform_server: PlatformServer, x: OAuth1Session) -> None:
    url = f"{platform_server.twitter_api_url}/2/tweets"
    assert x.get(url, params={"ids": ",".join(str(n) for n in range(1, 101))}).status_code == 200
    too_many = x.get(url, params={"ids": ",".join(str(n) for n in range(1, 102))})
    assert too_many.status_code == 400 and too_many.json()["title"] == "Invalid Request"


def test_set_engagement_refuses_unknown_counts_and_posts(platform_server: PlatformServer, x: OAuth1Session) -> None:
    post_id = tweet(platform_server, x, "counted").json()["data"]["id"]
    with pytest.raises(ValueError, match="note_count"):
        platform_server.set_engagement("twitter", post_id, note_count=1)
    with pytest.raises(KeyError):
        platform_server.set_engagement("twitter", "42", like_count=1)


def test_x_rate_limit_headers_count_down_per_endpoint(platform_server: PlatformServer, x: OAuth1Session) -> None:
    platform_server.twitter_rate_limits["GET /2/users/me"] = 2
    me_url = f"{platform_server.twitter_api_url}/2/users/me"

    answers = [x.get(me_url) for _ in range(3)]
    posted = tweet(platform_server, x, "another endpoint")

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert [answer.headers["x-rate-limit-remaining"] for answer in answers] == ["1", "0", "0"]
    assert {answer.headers["x-rate-limit-limit"] for answer in answers} == {"2"}
    reset = int(answers[0].headers["x-rate-limit-reset"])
    assert time.time() < reset <= time.time() + 15 * 60 + 1
    assert answers[2].json()["title"] == "Too Many Requests"
    assert posted.status_code == 201 and posted.headers["x-rate-limit-remaining"] == "99"


# --- Tumblr -------------------------------------------------------------------------------------------------------


def test_a_tumblr_post_and_the_listing(platform_server: PlatformServer, tumblr: OAuth1Session) -> None:
    first = blog_post(platform_server, tumblr, "first words", tags=["lore", "bot"])
    second = blog_post(platform_server, tumblr, "second words", tags="one, two")
    first_id = first.json()["response"]["id"]
    platform_server.set_engagement("tumblr", first_id, note_count=12)
    posts_url = f"{platform_server.tumblr_api_url}/v2/blog/{platform_server.tumblr_blog}.tumblr.com/posts"

    listing = tumblr.get(posts_url, params={"npf": "true", "limit": 5}).json()
    single = tumblr.get(posts_url, params={"npf": "true", "id": first_id}).json()
    legacy = tumblr.get(posts_url, params={"limit": 1}).json()

    assert first.status_code == 201 and first.json()["meta"] == {"status": 201, "msg": "Created"}
    assert first_id.isdigit() and first.json()["response"]["id_string"] == first_id
    posts = listing["response"]["posts"]
    assert [post["id_string"] for post in posts] == [second.json()["response"]["id"], first_id]
    assert posts[0]["tags"] == ["one", "two"] and posts[1]["tags"] == ["lore", "bot"]
    assert posts[1]["note_count"] == 12 and posts[0]["note_count"] == 0
    assert posts[1]["content"] == [{"type": "text", "text": "first words"}]
    assert abs(posts[1]["timestamp"] - time.time()) < 60
    assert [post["id_string"] for post in single["response"]["posts"]] == [first_id]
    assert "content" not in legacy["response"]["posts"][0] and "second words" in legacy["response"]["posts"][0]["body"]
    assert [post.text for post in platform_server.posts("tumblr")] == ["first words", "second words"]


def test_a_blog_the_token_does_not_own_is_403(platform_server: PlatformServer, tumblr: OAuth1Session) -> None:
    response = tumblr.post(f"{platform_server.tumblr_api_url}/v2/blog/someone-else/posts",
                           json={"content": [{"type": "text", "text": "not mine"}]})

    assert response.status_code == 403
    assert response.json()["meta"]["status"] == 403 and response.json()["errors"][0]["code"] == 0
    assert platform_server.posts("tumblr") == []


@pytest.mark.parametrize("body", [{}, {"content": []}, {"content": [{"type": "text"}]}, {"content": [{"text": "x"}]}])
def test_a_bad_npf_body_is_400(platform_server: PlatformServer, tumblr: OAuth1Session, body: dict) -> None:
    response = tumblr.post(f"{platform_server.tumblr_api_url}/v2/blog/{platform_server.tumblr_blog}/posts", json=body)

    assert response.status_code == 400 and response.json()["meta"]["status"] == 400


def test_the_daily_post_limit(platform_server: PlatformServer, tumblr: OAuth1Session) -> None:
    platform_server.tumblr_daily_post_limit = 2
    answers = [blog_post(platform_server, tumblr, f"post {index}") for index in range(3)]

    assert [answer.status_code for answer in answers] == [201, 201, 429]
    body = answers[2].json()
    assert body["meta"] == {"status": 429, "msg": "Limit Exceeded"} and body["response"] == []
    assert body["errors"][0]["title"] == "Limit Exceeded" and body["errors"][0]["code"] == 0
    assert len(platform_server.posts("tumblr")) == 2


def test_tumblr_rate_headers_count_down(platform_server: PlatformServer, tumblr: OAuth1Session) -> None:
    first = blog_post(platform_server, tumblr, "one")
    second = tumblr.get(f"{platform_server.tumblr_api_url}/v2/blog/{platform_server.tumblr_blog}/posts")

    assert [first.headers["X-Ratelimit-Perhour-Remaining"], second.headers["X-Ratelimit-Perhour-Remaining"]] == \
        ["999", "998"]
    assert second.headers["X-Ratelimit-Perday-Remaining"] == "4998"
    assert 0 < int(second.headers["X-Ratelimit-Perhour-Reset"]) <= 3600


# --- faults -------------------------------------------------------------------------------------------------------


def test_a_status_fault_is_used_once_in_each_envelope(
    platform_server: PlatformServer, x: OAuth1Session, tumblr: OAuth1Session
) -> None:
    platform_server.inject("x", r"^/2/tweets$", Status(503))
    platform_server.inject("tumblr", r"/posts$", Status(500))

    failed, retried = tweet(platform_server, x, "after a 503"), tweet(platform_server, x, "after a 503")
    tumblr_failed = blog_post(platform_server, tumblr, "after a 500")

    assert failed.status_code == 503 and failed.json()["title"] == "Service Unavailable"
    assert retried.status_code == 201
    assert tumblr_failed.status_code == 500 and tumblr_failed.json()["meta"]["status"] == 500
    assert [post.text for post in platform_server.posts("twitter")] == ["after a 503"]
    assert platform_server.posts("tumblr") == []


def test_faults_match_their_path_and_go_in_order(platform_server: PlatformServer, x: OAuth1Session) -> None:
    platform_server.inject("twitter", r"^/2/tweets$", Status(500))
    platform_server.inject("twitter", r"^/2/tweets$", Status(502), times=2)

    me = x.get(f"{platform_server.twitter_api_url}/2/users/me")
    unsigned = requests.post(f"{platform_server.twitter_api_url}/2/tweets", json={"text": "unsigned"})
    statuses = [tweet(platform_server, x, "persistent").status_code for _ in range(4)]

    assert me.status_code == 200 and unsigned.status_code == 401  # neither takes a fault
    assert statuses == [500, 502, 502, 201]


def test_an_injected_rate_limit_says_when_it_resets(
    platform_server: PlatformServer, x: OAuth1Session, tumblr: OAuth1Session
) -> None:
    platform_server.inject("x", "/2/tweets", RateLimit(30))
    platform_server.inject("tumblr", "/posts", RateLimit(45))

    limited = tweet(platform_server, x, "too soon")
    tumblr_limited = blog_post(platform_server, tumblr, "too soon")

    assert limited.status_code == 429 and limited.headers["x-rate-limit-remaining"] == "0"
    assert abs(int(limited.headers["x-rate-limit-reset"]) - (time.time() + 30)) <= 2
    assert tumblr_limited.status_code == 429
    assert tumblr_limited.json()["meta"] == {"status": 429, "msg": "Limit Exceeded"}
    assert tumblr_limited.headers["X-Ratelimit-Perhour-Remaining"] == "0"
    assert tumblr_limited.headers["X-Ratelimit-Perhour-Reset"] == "45"
    assert platform_server.posts("x") == [] and platform_server.posts("tumblr") == []


def test_a_duplicate_fault_refuses_a_new_text(platform_server: PlatformServer, x: OAuth1Session) -> None:
    platform_server.inject("x", "/2/tweets", Duplicate())

    refused = tweet(platform_server, x, "brand new text")

    assert refused.status_code == 403 and "duplicate content" in refused.json()["detail"]
    assert platform_server.posts("x") == []
    with pytest.raises(ValueError):
        platform_server.inject("tumblr", "/posts", Duplicate())


def test_a_slow_answer_comes_late_and_the_post_exists(platform_server: PlatformServer, x: OAuth1Session) -> None:
    platform_server.inject("x", "/2/tweets", Slow(0.4))
    platform_server.inject("x", "/2/tweets", Slow(5))

    started = time.monotonic()
    late = tweet(platform_server, x, "slow but fine")
    elapsed = time.monotonic() - started
    with pytest.raises(requests.exceptions.ReadTimeout):
        tweet(platform_server, x, "slower than the client waits", timeout=0.3)

    assert late.status_code == 201 and elapsed >= 0.4
    assert [post.text for post in platform_server.posts("x")] == ["slow but fine", "slower than the client waits"]


def test_a_dropped_connection_after_the_post_was_accepted(
    platform_server: PlatformServer, x: OAuth1Session, tumblr: OAuth1Session
) -> None:
    platform_server.inject("x", "/2/tweets", DropAfterAccept())
    platform_server.inject("tumblr", "/posts", DropAfterAccept())

    with pytest.raises(requests.exceptions.ConnectionError):
        tweet(platform_server, x, "did it go out?")
    with pytest.raises(requests.exceptions.ConnectionError):
        blog_post(platform_server, tumblr, "did it go out?")

    assert [post.text for post in platform_server.posts("x")] == ["did it go out?"]
    assert [post.text for post in platform_server.posts("tumblr")] == ["did it go out?"]
    assert tweet(platform_server, x, "did it go out?").status_code == 403  # the duplicate check knows it


def test_the_server_stops_at_exit() -> None:
    with PlatformServer() as server:
        url = f"{server.twitter_api_url}/2/users/me"
        assert requests.get(url).status_code == 401
        assert server.requests == [Logged("GET", "/x/2/users/me", False)]
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, timeout=2)
