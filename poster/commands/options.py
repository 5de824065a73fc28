"""Options shared by the poster commands. Each has one name everywhere: the flag `--twitter-access-token` is the
environment variable (and `.env` line) LORECAST_TWITTER_ACCESS_TOKEN, and so on. Prefer the environment or `.env`
for secrets: a flag shows in the process list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from lorecast.errors import LorecastError

DEFAULT_ENDPOINT = "http://127.0.0.1:8080/predictions/lorecast"
DEFAULT_LEDGER = "ledger/posts.db"
PLATFORMS = ("twitter", "tumblr", "mastodon", "bluesky", "stdout")
_CREDENTIAL_PARTS = ("consumer_key", "consumer_secret", "access_token", "access_secret")
API_URLS = {"twitter": "https://api.x.com", "tumblr": "https://api.tumblr.com", "bluesky": "https://bsky.social"}
MASTODON_VISIBILITIES = ("public", "unlisted", "private")


def _env(name: str) -> str:
    return f"LORECAST_{name.upper()}"


def stack_options(*decorators: Callable) -> Callable:
    """One decorator that applies `decorators` as if they were written one above the other, in this order."""
    def apply(function: Callable) -> Callable:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


inference_options = stack_options(
    click.option("--endpoint", default=DEFAULT_ENDPOINT, show_default=True, envvar="LORECAST_ENDPOINT",
                 show_envvar=True, metavar="URL",
                 help="TorchServe's predictions URL of the model: "
                      "http://HOST:INFERENCE_PORT/predictions/MODEL_NAME."),
    click.option("--key", envvar="LORECAST_INFERENCE_KEY", show_envvar=True, metavar="KEY",
                 help="TorchServe's inference key, sent as 'Authorization: Bearer KEY' and never printed. "
                      "Overrides --key-file. A key on the command line shows in the process list: prefer the "
                      "environment variable or --key-file."),
    click.option("--key-file", metavar="PATH", envvar="LORECAST_KEY_FILE", show_envvar=True,
                 help="Read the inference key from TorchServe's key_file.json, which TorchServe writes into the "
                      "directory it was started from, with new keys at every start. Neither --key nor "
                      "--key-file: no key is sent, which only a TorchServe with token authorization off accepts."),
)

ledger_option = click.option(
    "--ledger", "ledger_path", default=DEFAULT_LEDGER, show_default=True, envvar="LORECAST_LEDGER",
    show_envvar=True, metavar="PATH", type=click.Path(dir_okay=False),
    help="The SQLite ledger of the posts: `lorecast post` creates it when missing, the other commands read it.")

platform_argument = click.argument("platform", type=click.Choice(PLATFORMS))


def _credential_options(platform: str) -> list[Callable]:
    return [
        click.option(f"--{platform}-{part.replace('_', '-')}", envvar=_env(f"{platform}_{part}"), show_envvar=True,
                     metavar="VALUE", help=f"{platform.capitalize()} OAuth1 {part.replace('_', ' ')} "
                                           "(`lorecast auth " + platform + "` prints them).")
        for part in _CREDENTIAL_PARTS
    ]


platform_options = stack_options(
    *_credential_options("twitter"),
    click.option("--twitter-api-url", default=API_URLS["twitter"], show_default=True,
                 envvar="LORECAST_TWITTER_API_URL", show_envvar=True, metavar="URL", help="X API base URL."),
    *_credential_options("tumblr"),
    click.option("--tumblr-blog", envvar="LORECAST_TUMBLR_BLOG", show_envvar=True, metavar="NAME",
                 help="The Tumblr blog to post to (e.g. mybot.tumblr.com)."),
    click.option("--tumblr-tags", default="", envvar="LORECAST_TUMBLR_TAGS", show_envvar=True, metavar="TAGS",
                 help="Comma-separated tags for every Tumblr post."),
    click.option("--tumblr-api-url", default=API_URLS["tumblr"], show_default=True,
                 envvar="LORECAST_TUMBLR_API_URL", show_envvar=True, metavar="URL", help="Tumblr API base URL."),
    click.option("--mastodon-instance", envvar="LORECAST_MASTODON_INSTANCE", show_envvar=True, metavar="URL",
                 help="The Mastodon instance of the bot's account, e.g. https://mastodon.social."),
    click.option("--mastodon-access-token", envvar="LORECAST_MASTODON_ACCESS_TOKEN", show_envvar=True,
                 metavar="TOKEN", help="The account's access token with the scopes read and write:statuses "
                                       "(`lorecast auth mastodon`, or the instance's Development settings)."),
    click.option("--mastodon-visibility", type=click.Choice(MASTODON_VISIBILITIES), default="unlisted",
                 show_default=True, envvar="LORECAST_MASTODON_VISIBILITY", show_envvar=True,
                 help="Who sees the bot's statuses: unlisted keeps them off the public timelines, as bot etiquette "
                      "on most instances asks."),
    click.option("--bluesky-service", default=API_URLS["bluesky"], show_default=True,
                 envvar="LORECAST_BLUESKY_SERVICE", show_envvar=True, metavar="URL",
                 help="The account's PDS (its host, for an account on Bluesky's own servers the default)."),
    click.option("--bluesky-handle", envvar="LORECAST_BLUESKY_HANDLE", show_envvar=True, metavar="HANDLE",
                 help="The bot's handle, e.g. lorebot.bsky.social."),
    click.option("--bluesky-app-password", envvar="LORECAST_BLUESKY_APP_PASSWORD", show_envvar=True,
                 metavar="PASSWORD", help="An app password of the account (Settings > Privacy and security > App "
                                          "passwords), not its main password."),
    click.option("--bluesky-appview-url", envvar="LORECAST_BLUESKY_APPVIEW_URL", show_envvar=True, metavar="URL",
                 help="Where engagement is read (app.bsky.feed.getPosts); default: through the PDS, which proxies "
                      "to Bluesky's AppView."),
    click.option("--stdout-mention", "stdout_mentions", multiple=True, metavar="TEXT",
                 help="A made-up mention for `lorecast reply stdout` to answer, as if @someone wrote it "
                      "(repeatable): how to try replies without a platform."),
    click.option("--timeout", "timeout_s", type=click.FloatRange(min=0, min_open=True), default=30.0,
                 show_default=True, envvar="LORECAST_TIMEOUT", show_envvar=True, metavar="SECONDS",
                 help="How long to wait for each answer from the platform. A post whose answer does not come in "
                      "time is not called failed: it may be out, so the run looks it up, and later runs look "
                      "again."),
)

spending_options = stack_options(
    click.option("--max-monthly-spend", "monthly_cap_usd", type=click.FloatRange(min=0), default=None,
                 envvar="LORECAST_MAX_MONTHLY_SPEND", show_envvar=True, metavar="USD",
                 help="X bills per call: a call that would take this calendar month's spend (UTC, every account of "
                      "the ledger) past this many US dollars is not made, and the run stops with exit code 76. "
                      "`lorecast ledger costs` shows the spend."),
    click.option("--max-run-spend", "run_cap_usd", type=click.FloatRange(min=0), default=None,
                 envvar="LORECAST_MAX_RUN_SPEND", show_envvar=True, metavar="USD",
                 help="The same cap for this run alone."),
    click.option("--prices", "prices_path", type=click.Path(dir_okay=False), default=None,
                 envvar="LORECAST_PRICES", show_envvar=True, metavar="FILE",
                 help='A JSON file of prices in US dollars per unit over the built-in ones, e.g. {"twitter": '
                      '{"post": 0.015, "post_with_link": 0.2, "read": 0.001}} (the README says where they come '
                      "from; they change)."),
)


def make_platform(name: str, options: dict[str, Any], *, ledger_path: str, meter=None, allow_links: bool = False):
    """The platform client for `name`, from the platform options (see platform_options); `meter` bills X's calls."""
    timeout = options["timeout_s"]
    if name == "stdout":
        from poster.platforms.stdout import StdoutPlatform

        return StdoutPlatform(mentions=options.get("stdout_mentions", ()))
    if name == "mastodon":
        from poster.platforms.mastodon import MastodonPlatform

        instance, token = _required(name, options, "mastodon_instance", "mastodon_access_token")
        return MastodonPlatform(instance, token, visibility=options["mastodon_visibility"], timeout=timeout)
    if name == "bluesky":
        from poster.bluesky_session import session_path
        from poster.platforms.bluesky import BlueskyPlatform

        handle, password = _required(name, options, "bluesky_handle", "bluesky_app_password")
        return BlueskyPlatform(options["bluesky_service"], handle, password, session_path(ledger_path, handle),
                               timeout=timeout, appview_url=options["bluesky_appview_url"])
    from poster.credentials import OAuth1Credentials

    credentials = OAuth1Credentials(*_required(name, options, *(f"{name}_{part}" for part in _CREDENTIAL_PARTS)))
    if name == "twitter":
        from poster.platforms.twitter import TwitterPlatform

        return TwitterPlatform(credentials, api_url=options["twitter_api_url"], timeout=timeout, meter=meter,
                               allow_links=allow_links)
    from poster.platforms.tumblr import TumblrPlatform

    if not options["tumblr_blog"]:
        raise LorecastError("tumblr: no blog to post to (--tumblr-blog or LORECAST_TUMBLR_BLOG)")
    tags = [tag.strip() for tag in options["tumblr_tags"].split(",") if tag.strip()]
    return TumblrPlatform(credentials, options["tumblr_blog"], api_url=options["tumblr_api_url"], tags=tags,
                          timeout=timeout)


def _required(platform: str, options: dict[str, Any], *names: str) -> list[str]:
    """The values of the options `names`; one error naming every variable missing (never a value)."""
    missing = [_env(name) for name in names if not options[name]]
    if missing:
        how = {"mastodon": "`lorecast auth mastodon` gets the access token",
               "bluesky": "create an app password in the account's settings"}.get(
                   platform, f"`lorecast auth {platform}` gets the access token")
        raise LorecastError(f"{platform}: missing credentials {', '.join(missing)} (flags, environment or .env; "
                            f"{how})")
    return [options[name] for name in names]


def inference_client(endpoint: str, key: str | None, key_file: str | None, timeout: float = 60.0):
    """The inference client, with the key from --key, else --key-file; a clear error without the poster extra."""
    try:
        from poster.inference import InferenceClient, read_key_file
    except ImportError as error:
        raise LorecastError(
            f"this command needs the poster extra ({error.name} is missing): pip install 'lorecast[poster]'"
        ) from None
    if key is None and key_file is not None:
        key = read_key_file(key_file)
    return InferenceClient(endpoint, key=key, timeout=timeout)


request_option = click.option(
    "--request", "request_json", default="{}", metavar="JSON", envvar="LORECAST_REQUEST", show_envvar=True,
    help='Extra inference request fields, e.g. \'{"temperature": 0.9, "explore": 0.1}\' (see the README\'s '
         "inference API).")


def request_fields(request_json: str, reserved: tuple[str, ...] = ("n",)) -> dict[str, Any]:
    """The --request JSON object; a usage error when it is not one, or names a field the command sets itself."""
    import json

    try:
        request = json.loads(request_json)
    except ValueError as error:
        raise click.BadParameter(f"not JSON ({error})", param_hint="--request") from None
    if not isinstance(request, dict) or any(name in request for name in reserved):
        raise click.BadParameter(f"a JSON object of request fields other than {', '.join(reserved)}",
                                 param_hint="--request")
    return request


def run_timing_options(deadline_s: float, max_wait_s: float) -> Callable:
    """--deadline, --max-wait and --settle-after of a run against a platform (post, reply), with its defaults."""
    return stack_options(
        click.option("--deadline", "deadline_s", type=click.FloatRange(min=1), default=deadline_s, show_default=True,
                     envvar="LORECAST_DEADLINE", show_envvar=True, metavar="SECONDS",
                     help="The run must be done within this many seconds (set it below the CronJob's "
                          "activeDeadlineSeconds): a rate limit that resets later stops the run with exit code 75."),
        click.option("--max-wait", "max_wait_s", type=click.FloatRange(min=0), default=max_wait_s, show_default=True,
                     metavar="SECONDS", help="The longest the run sleeps for a rate limit to reset."),
        click.option("--settle-after", "settle_after_s", type=click.FloatRange(min=0), default=600.0,
                     show_default=True, envvar="LORECAST_SETTLE_AFTER", show_envvar=True, metavar="SECONDS",
                     help="A post or reply whose outcome is unknown (its answer never came) and that the platform "
                          "still does not show this long after it was sent is marked failed, which frees its text "
                          "(and a reply's mention, to be answered again)."),
    )
