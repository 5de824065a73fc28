"""The error tree of the product: what the `lorecast` command turns into one line (`error: ...`, exit 1, or the
poster's own exit codes) instead of a traceback. Every package raises from here, so a caller can catch a kind
of problem without importing the package that had it.

    LorecastError            a problem the user can fix: a bad path, a malformed file, a bad option
    ├── SourceError          a file that cannot be read, with its line        dataset (sources, blocklist
    │                                                                         files), poster (.env, k8s secret)
    ├── LedgerError          the posters' ledger cannot do what was asked     poster.ledger
    │   ├── LedgerBusy       another live run holds the account's lock        (exit 73)
    │   └── DuplicateText    the account already has this text                poster.ledger
    ├── InferenceError       TorchServe gave no generation                    poster.inference
    ├── PinFlowError         a sign-in got no token                           poster.oauth_*, mastodon_oauth
    ├── RateLimitedExit      the rate limit resets after the run's deadline   poster.run (exit 75)
    ├── BudgetReached        a billed call would pass the spending cap        poster.costs (exit 76)
    ├── NothingToPost        no candidate could be posted                     poster.run
    └── PlatformError        a platform refused or failed a call              poster.platforms
        ├── DuplicatePost    the platform already has this text
        ├── AuthRefused      the credentials were refused
        └── RateLimited      rate limited until `reset_at`

Raised elsewhere, and why not from here: the TorchServe worker (serve_handler/) imports nothing of ours outside
itself and textrules/, so its errors are ValueErrors of its own: `RequestError` (a request answered 400),
`SettingsError` (a bad handler: section; the worker does not start). textrules' `BlocklistLineError` is turned
into a SourceError by dataset.blocklist_files. ops/k8s_check.py, a script, has `CheckError` and `RenderError`.
Messages never hold secrets (keys, tokens, passwords).
"""


class LorecastError(Exception):
    """A problem the user can fix (a bad path, a malformed file, a bad option).

    The message is shown as is, on one line, so it should name the file (and line) and the reason.
    """


class SourceError(LorecastError):
    """A source file that cannot be read: names the file, the line when known, and the reason."""

    def __init__(self, path, reason: str, line: int | None = None):
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class LedgerError(LorecastError):
    """The ledger cannot do what was asked: one line naming the ledger file or the post."""


class LedgerBusy(LedgerError):
    """Another live run holds the lock of this platform account."""


class DuplicateText(LedgerError):
    """This account already has a pending or posted row with the same normalized text."""


class InferenceError(LorecastError):
    """The inference API could not give a generation: one line, never holding the key."""


class PinFlowError(LorecastError):
    """A sign-in (OAuth1 PIN or callback flow, Mastodon's OAuth2 code flow) got no token: one line, without secrets."""


class RateLimitedExit(LorecastError):
    """The platform's rate limit resets after the run's deadline: stop now, the next run will post."""


class BudgetReached(LorecastError):
    """A billed platform call would pass the monthly or per-run spending cap: it was not made."""


class NothingToPost(LorecastError):
    """No candidate could be posted (all seen before, too long, or filtered): nothing was sent."""


class PlatformError(LorecastError):
    """A platform refused or failed a call; `transient` when the same call may succeed later."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class RepliesUnsupported(PlatformError):
    """The platform cannot read mentions or reply (Tumblr, whose API does not expose a blog's asks)."""


class DuplicatePost(PlatformError):
    """The platform refused the text as a duplicate of one it already has."""


class AuthRefused(PlatformError):
    """The platform refused the credentials (revoked, expired or wrong)."""


class RateLimited(PlatformError):
    """Rate limited; `reset_at` (unix seconds) is when the platform says calls may resume, when it says."""

    def __init__(self, message: str, reset_at: float | None) -> None:
        super().__init__(message, transient=True)
        self.reset_at = reset_at
