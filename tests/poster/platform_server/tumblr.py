"""The Tumblr API v2 of the test platform: the endpoints the posters use, as Tumblr answers them.

Tumblr, under /tumblr (errors are {"meta": {"status", "msg"}, "response": [], "errors": [{"title", "code": 0,
"detail"}]}; a blog is "name" or "name.tumblr.com")
    POST /v2/blog/{blog}/posts  NPF JSON {"content": [{"type": "text", "text": str}, ...], "tags": [str] or
        "a,b", other NPF fields ignored} -> 201 {"meta": {"status": 201, "msg": "Created"},
        "response": {"id": "<digits>", "id_string": "<digits>"}}. Another blog than the token's -> 403; no
        content, a block without a type or a text block without text -> 400; more than
        `server.tumblr_daily_post_limit` (250) posts by the account -> 429 "Limit Exceeded".
    GET /v2/blog/{blog}/posts?npf=true&limit=1..20 (default 20)&offset=N&id=ID -> {"meta": {"status": 200,
        "msg": "OK"}, "response": {"blog": {"name", "url"}, "total_posts", "posts": [{"id", "id_string",
        "blog_name", "post_url", "timestamp", "tags", "note_count", "content"}]}}, newest first. Without npf=true
        a post has the legacy "type": "text" and "body" (HTML) instead of "content". An unknown blog or id: 404.
    GET /oauth/authorize?oauth_token=.. (the user's browser) -> 302 Location: <callback>?oauth_token=..&
        oauth_verifier=.. ; with `server.tumblr_user_denies` -> 302 to the bare callback. No PIN page: Tumblr has
        none. Request tokens need oauth_callback=`server.tumblr_callback_url` (oob or another URL: 401). The other
        OAuth endpoints: oauth1.py.
    Rate headers on every answer to a verified request, per consumer key: X-Ratelimit-Perhour-Limit/-Remaining/
    -Reset and X-Ratelimit-Perday-Limit/-Remaining/-Reset (reset in seconds from now, as Tumblr sends them).
"""

from __future__ import annotations

import html
import json
import re
import secrets
import time
from http import HTTPStatus
from typing import Any

from oauthlib.oauth1 import AuthorizationEndpoint
from oauthlib.oauth1.rfc5849.errors import OAuth1Error

from .base import OAUTH1_ROUTES, Platform, Post, Reply, Route, Window

TUMBLR_METRICS = ("note_count",)
TUMBLR_HOURLY_LIMIT, TUMBLR_DAILY_LIMIT = 1000, 5000  # API calls per consumer key
TUMBLR_DAILY_POST_LIMIT = 250  # new posts per day per user


class Tumblr(Platform):
    name = "tumblr"
    metrics = TUMBLR_METRICS
    routes = (
        ("POST", re.compile(r"/v2/blog/([^/]+)/posts"), "POST /v2/blog/:blog/posts"),
        ("GET", re.compile(r"/v2/blog/([^/]+)/posts"), "GET /v2/blog/:blog/posts"),
        *OAUTH1_ROUTES,
    )

    def __init__(self, blog: str) -> None:
        super().__init__(f"tck{secrets.token_hex(10)}", secrets.token_hex(20), blog, 760_000_000_000_000_001,
                         callback=None)
        self.authorization = AuthorizationEndpoint(self.validator)
        self.user_denies = False
        self.daily_post_limit = TUMBLR_DAILY_POST_LIMIT
        self._hourly = Window(TUMBLR_HOURLY_LIMIT, 3600)
        self._daily = Window(TUMBLR_DAILY_LIMIT, 86400)

    def authorize(self, uri: str, query: dict[str, list[str]]) -> Reply:
        held = self.validator.request_tokens.get(query.get("oauth_token", [""])[0])
        if held is None:
            return self.not_a_valid_link()
        if self.user_denies:
            return Reply(302, "", "text/html; charset=utf-8", {"Location": held.callback})
        try:
            headers, _, status = self.authorization.create_authorization_response(uri)
        except OAuth1Error:
            return self.not_a_valid_link()
        return Reply(status, "", "text/html; charset=utf-8", {"Location": headers["Location"]})

    def unauthorized(self) -> Reply:
        return self._envelope(401, "Not Authorized", "The request's OAuth 1.0a signature or token is not valid.")

    def error(self, status: int, detail: str | None = None) -> Reply:
        phrase = "Limit Exceeded" if status == 429 else HTTPStatus(status).phrase
        return self._envelope(status, phrase, detail or phrase)

    def _envelope(self, status: int, msg: str, detail: str) -> Reply:
        return Reply(status, {"meta": {"status": status, "msg": msg}, "response": [],
                               "errors": [{"title": msg, "code": 0, "detail": detail}]})

    def _rate_headers(self, now: float, hourly_remaining: int, hourly_reset: float) -> dict[str, str]:
        return {
            "X-Ratelimit-Perhour-Limit": str(self._hourly.limit),
            "X-Ratelimit-Perhour-Remaining": str(hourly_remaining),
            "X-Ratelimit-Perhour-Reset": str(max(0, round(hourly_reset))),
            "X-Ratelimit-Perday-Limit": str(self._daily.limit),
            "X-Ratelimit-Perday-Remaining": str(self._daily.remaining),
            "X-Ratelimit-Perday-Reset": str(max(0, round(self._daily.resets_at - now))),
        }

    def count_request(self, endpoint: str, key: str) -> tuple[bool, dict[str, str]]:
        now = time.time()  # one consumer key per server: the windows are the consumer's
        within_hour = self._hourly.take(now)
        within_day = self._daily.take(now)
        within = within_hour and within_day
        return within, self._rate_headers(now, self._hourly.remaining, self._hourly.resets_at - now)

    def rate_limited(self, endpoint: str, key: str, reset_in_s: float) -> Reply:
        reply = self.error(429, "You have hit the API rate limit; try again later.")
        return Reply(reply.status, reply.body, headers=self._rate_headers(time.time(), 0, reset_in_s))

    def handle(self, route: Route, query: dict[str, list[str]], body: bytes, headers: dict[str, str]) -> Reply:
        blog = route.args[0].removesuffix(".tumblr.com")
        if route.endpoint == "POST /v2/blog/:blog/posts":
            return self._create(blog, body, headers)
        return self._list(blog, query)

    def _create(self, blog: str, body: bytes, headers: dict[str, str]) -> Reply:
        if blog != self.account:
            return self.error(403, f"You cannot post to the blog {blog!r}.")
        if "application/json" not in headers.get("content-type", ""):
            return self.error(400, "The body must be NPF JSON (Content-Type: application/json).")
        try:
            request = json.loads(body)
        except ValueError:
            return self.error(400, "The body is not valid JSON.")
        problem = _npf_problem(request)
        if problem:
            return self.error(400, problem)
        if len(self.posts) >= self.daily_post_limit:
            return self.error(429, f"You have exceeded your daily post limit ({self.daily_post_limit} posts).")
        tags = request.get("tags", [])
        if isinstance(tags, str):
            tags = [tag.strip() for tag in tags.split(",") if tag.strip()]
        content = request["content"]
        text = "\n\n".join(block["text"] for block in content if block["type"] == "text")
        post = self.new_post(text, tags=list(tags), content=content)
        return Reply(201, {"meta": {"status": 201, "msg": "Created"},
                            "response": {"id": post.id, "id_string": post.id}})

    def _list(self, blog: str, query: dict[str, list[str]]) -> Reply:
        if blog != self.account:
            return self.error(404, f"The blog {blog!r} was not found.")
        npf = query.get("npf", ["false"])[0] == "true"
        raw_limit, raw_offset = query.get("limit", ["20"])[0], query.get("offset", ["0"])[0]
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 20 or not raw_offset.isdigit():
            return self.error(400, "limit must be 1 to 20 and offset a non-negative integer.")
        if "id" in query:
            post = self.find_post(query["id"][0])
            if post is None:
                return self.error(404, "The post was not found.")
            page = [post]
        else:
            offset = int(raw_offset)
            page = list(reversed(self.posts))[offset:offset + int(raw_limit)]
        url = f"https://{self.account}.tumblr.com/"
        return Reply(200, {"meta": {"status": 200, "msg": "OK"}, "response": {
            "blog": {"name": self.account, "url": url}, "total_posts": len(self.posts),
            "posts": [self._post(post, url, npf) for post in page],
        }})

    def _post(self, post: Post, url: str, npf: bool) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "id": int(post.id), "id_string": post.id, "blog_name": self.account, "post_url": f"{url}post/{post.id}",
            "timestamp": post.created_at, "tags": post.tags, "note_count": post.counts["note_count"],
        }
        if npf:
            shown["content"] = post.content
        else:  # the legacy format of a text post
            shown.update(type="text", body="".join(f"<p>{html.escape(line)}</p>" for line in post.text.split("\n\n")))
        return shown


def _npf_problem(request: Any) -> str | None:
    if not isinstance(request, dict):
        return "The body must be a JSON object."
    content = request.get("content")
    if not isinstance(content, list) or not content:
        return "content must be a non-empty list of NPF blocks."
    for index, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return f"content[{index}] must be an object with a type."
        if block["type"] == "text" and not (isinstance(block.get("text"), str) and block["text"].strip()):
            return f"content[{index}] is a text block without text."
    tags = request.get("tags", [])
    if not isinstance(tags, str) and not (isinstance(tags, list) and all(isinstance(tag, str) for tag in tags)):
        return "tags must be a list of strings or a comma-separated string."
    return None
