"""`lorecast auth twitter|tumblr`: get an account's OAuth1 access token and secret with the PIN flow.

The app's consumer key and secret come from the flags or the same-named LORECAST_… variables (environment or
`.env`). The command prints the authorize URL, asks for the PIN the platform shows after authorizing, and prints
the four LORECAST_<PLATFORM>_… lines for `.env` on stdout, so `>> .env` collects them; the instructions, the
prompt and a `kubectl create secret` hint go to stderr.

There is no --pin flag: a PIN belongs to the request token fetched by the same run, so it cannot be known before
the run starts. A script answers the prompt on stdin after reading the URL from stderr instead.

requests and requests-oauthlib are imported inside the commands, so `lorecast --help` works without the poster
extra.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from poster.commands.options import API_URLS, stack_options
from poster.env_file import DotEnvGroup

if TYPE_CHECKING:
    from poster.oauth_pin import OAuthEndpoints


@click.group("auth", cls=DotEnvGroup)
def auth_group() -> None:
    """Authorize lorecast to post as an account (OAuth1 PIN flow).

    \b
    Needs an app registered with the platform (its consumer key and secret):
      X:      developer.x.com, an app with Read and Write permission
      Tumblr: www.tumblr.com/oauth/apps
    """


def _consumer_options(platform: str, label: str) -> Callable:
    env = f"LORECAST_{platform.upper()}"
    key = click.option(f"--{platform}-consumer-key", "consumer_key", envvar=f"{env}_CONSUMER_KEY",
                       show_envvar=True, metavar="KEY",
                       help=f"The {label} app's consumer key (API key).")
    secret = click.option(f"--{platform}-consumer-secret", "consumer_secret", envvar=f"{env}_CONSUMER_SECRET",
                          show_envvar=True, metavar="SECRET",
                          help=f"The {label} app's consumer secret. A flag shows in the process list: prefer "
                               "the environment variable or .env.")
    timeout = click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0,
                           show_default=True, help=f"Seconds to wait for each answer from {label}.")
    return stack_options(key, secret, timeout)


@auth_group.command("twitter")
@_consumer_options("twitter", "X")
@click.option("--twitter-api-url", "api_url", default=API_URLS["twitter"], show_default=True,
              envvar="LORECAST_TWITTER_API_URL", show_envvar=True, metavar="URL",
              help="X API base URL; the OAuth endpoints are under it (/oauth/request_token, /oauth/authorize, "
                   "/oauth/access_token).")
def twitter_command(consumer_key: str | None, consumer_secret: str | None, timeout: float, api_url: str) -> None:
    """Get the access token and secret of the X account that will post."""
    from poster.oauth_pin import twitter_endpoints

    _authorize("twitter", "X", twitter_endpoints(api_url), consumer_key, consumer_secret, timeout)


@auth_group.command("tumblr")
@_consumer_options("tumblr", "Tumblr")
@click.option("--tumblr-oauth-url", "oauth_url", default="https://www.tumblr.com", show_default=True,
              envvar="LORECAST_TUMBLR_OAUTH_URL", show_envvar=True, metavar="URL",
              help="Where Tumblr's OAuth endpoints are (/oauth/request_token, /oauth/authorize, "
                   "/oauth/access_token); the API itself is elsewhere.")
def tumblr_command(consumer_key: str | None, consumer_secret: str | None, timeout: float, oauth_url: str) -> None:
    """Get the access token and secret of the Tumblr account that owns the blog."""
    from poster.oauth_pin import tumblr_endpoints

    _authorize("tumblr", "Tumblr", tumblr_endpoints(oauth_url), consumer_key, consumer_secret, timeout)


def _authorize(platform: str, label: str, endpoints: OAuthEndpoints, consumer_key: str | None,
               consumer_secret: str | None, timeout: float) -> None:
    env = f"LORECAST_{platform.upper()}"
    missing = [f"--{platform}-consumer-{part} (or {env}_CONSUMER_{part.upper()})"
               for part, value in (("key", consumer_key), ("secret", consumer_secret)) if not value]
    if missing:
        raise click.UsageError(f"missing {' and '.join(missing)}: the {label} app's consumer key and secret")
    from poster.oauth_pin import PinFlow

    flow = PinFlow(consumer_key, consumer_secret, endpoints, timeout=timeout)
    url = flow.start()
    click.echo(f"Open this URL, sign in as the account that will post, and authorize the app:\n\n  {url}\n",
               err=True)
    token = flow.finish(click.prompt(f"The PIN {label} shows", err=True))
    if token.screen_name:
        click.echo(f"Authorized as @{token.screen_name}.", err=True)
    click.echo(f"Put these lines in .env (or append them: `lorecast auth {platform} >> .env`):", err=True)
    for part, value in (("CONSUMER_KEY", consumer_key), ("CONSUMER_SECRET", consumer_secret),
                        ("ACCESS_TOKEN", token.token), ("ACCESS_SECRET", token.secret)):
        click.echo(f"{env}_{part}={value}")
    click.echo(
        f"For Kubernetes, save them to {platform}.env, run\n"
        f"  kubectl create secret generic lorecast-{platform} --from-env-file={platform}.env\n"
        "and delete the file.",
        err=True,
    )
