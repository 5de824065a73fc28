"""The faults a test injects into the test platform.

`server.inject(platform, path_regex, fault, times=1)` queues a fault; a request whose signature verified
and whose path under the prefix (no query, e.g. "/2/tweets") matches `re.search(path_regex, path)` takes the
first matching fault in the queue, once:
    Status(503)         answers that status with the platform's error body instead of handling the request
    RateLimit(30)       429 with the platform's body and rate headers saying the limit resets in 30 s
                        (X: x-rate-limit-remaining 0 and -reset now + 30; Tumblr: X-Ratelimit-Perhour-Remaining 0
                        and -Reset 30)
    Duplicate()         X only: the duplicate-content 403, even for a new text (nothing is created)
    Slow(2.0)           handles the request at once (a post IS created), answers 2 s later
    LateAccept(2.0)     waits 2 s, THEN handles the request (a post IS created, but only then), then answers: a
                        client that timed out meanwhile finds no post if it looks at once
    DropAfterAccept()   handles the request (a post IS created), then closes the connection without an answer
On the OAuth token endpoints the token is issued before a fault replaces the answer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Status:
    status: int


@dataclass(frozen=True)
class RateLimit:
    reset_in_s: float


@dataclass(frozen=True)
class Slow:
    seconds: float


@dataclass(frozen=True)
class LateAccept:
    seconds: float


@dataclass(frozen=True)
class Duplicate:
    pass


@dataclass(frozen=True)
class DropAfterAccept:
    pass


Fault = Status | RateLimit | Slow | LateAccept | Duplicate | DropAfterAccept
