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
PLATFORMS = ("twitter", "tumblr", "stdout")
_CREDENTIAL_PARTS = ("consumer_key", "consumer_secret", "access_token", "access_secret")
API_URLS = {"twitter": "https://api.x.com", "tumblr": "https://api.tumblr.com"}


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
)


def make_platform(name: str, options: dict[str, Any]):
    """The platform client for `name`, from the platform options (see platform_options)."""
    from poster.credentials import OAuth1Credentials

    if name == "stdout":
        from poster.platforms.stdout import StdoutPlatform

        return StdoutPlatform()
    values = [options[f"{name}_{part}"] for part in _CREDENTIAL_PARTS]
    missing = [_env(f"{name}_{part}") for part, value in zip(_CREDENTIAL_PARTS, values) if not value]
    if missing:
        raise LorecastError(f"{name}: missing credentials {', '.join(missing)} (flags, environment or .env; "
                            f"`lorecast auth {name}` gets the access token)")
    credentials = OAuth1Credentials(*values)
    if name == "twitter":
        from poster.platforms.twitter import TwitterPlatform

        return TwitterPlatform(credentials, api_url=options["twitter_api_url"])
    from poster.platforms.tumblr import TumblrPlatform

    if not options["tumblr_blog"]:
        raise LorecastError("tumblr: no blog to post to (--tumblr-blog or LORECAST_TUMBLR_BLOG)")
    tags = [tag.strip() for tag in options["tumblr_tags"].split(",") if tag.strip()]
    return TumblrPlatform(credentials, options["tumblr_blog"], api_url=options["tumblr_api_url"], tags=tags)


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
