"""`lorecast k8s secret`: print the posters' Kubernetes Secrets, built from a `.env` file (poster/k8s_secret.py).

    lorecast k8s secret --from-env .env | kubectl apply -f -

The values go to stdout only, which is the point of the command: pipe it into kubectl rather than into a file.
Errors (one line) name the file and the variables, never a value. Needs the k8s extra (kubernetes, pyyaml),
imported inside the command so that `lorecast --help` works without it.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import click

from lorecast.errors import LorecastError, SourceError
from poster.env_file import DotEnvGroup
from poster.k8s_secret import DNS_LABEL, DNS_SUBDOMAIN, SECRET_PLATFORMS


@click.group("k8s", cls=DotEnvGroup)
def k8s_group() -> None:
    """Helpers for running the posters in Kubernetes (see the README's "Deploy to Kubernetes")."""


def _name_check(pattern: re.Pattern, what: str):
    """A click callback that refuses a name Kubernetes would refuse, before anything is printed."""
    def check(context: click.Context, parameter: click.Parameter, value: str | None) -> str | None:
        if value is not None and not pattern.fullmatch(value):
            raise click.BadParameter(f"{value!r} is not a valid {what}")
        return value

    return check


@k8s_group.command("secret")
@click.option("--from-env", "env_file", required=True, metavar="FILE", type=click.Path(path_type=Path),
              help="The .env file with the platforms' LORECAST_<PLATFORM>_… lines (`lorecast auth PLATFORM` "
                   "prints them). Only this file is read, not the environment.")
@click.option("--platform", "platforms", multiple=True, type=click.Choice(SECRET_PLATFORMS),
              help="A platform to print the Secret of; repeat it for several. Default: every platform with "
                   "credentials in the file.")
@click.option("--name", metavar="NAME",
              callback=_name_check(DNS_SUBDOMAIN, "Secret name (lower-case letters, digits, '-' and '.')"),
              help="The Secret's name when the output holds one Secret. Default: lorecast-PLATFORM, the name "
                   "the CronJobs of k8s/ load.")
@click.option("--namespace", default="lorecast", show_default=True, metavar="NS",
              callback=_name_check(DNS_LABEL, "namespace (lower-case letters, digits and '-')"),
              help="The Secrets' namespace: the one k8s/base puts the CronJobs in, unless your overlay moves them.")
def secret_command(env_file: Path, platforms: tuple[str, ...], name: str | None, namespace: str) -> None:
    """Print a Secret manifest per platform with the credentials from --from-env FILE, for `kubectl apply -f -`.

    \b
    Each Secret's keys are the variable names the poster reads; the first ones are required, those after
    the semicolon go in when the file has them:
      twitter   LORECAST_TWITTER_CONSUMER_KEY, _CONSUMER_SECRET, _ACCESS_TOKEN, _ACCESS_SECRET
      tumblr    LORECAST_TUMBLR_CONSUMER_KEY, _CONSUMER_SECRET, _ACCESS_TOKEN, _ACCESS_SECRET,
                LORECAST_TUMBLR_BLOG; LORECAST_TUMBLR_TAGS
      mastodon  LORECAST_MASTODON_INSTANCE, _ACCESS_TOKEN; LORECAST_MASTODON_VISIBILITY
      bluesky   LORECAST_BLUESKY_HANDLE, _APP_PASSWORD; LORECAST_BLUESKY_SERVICE

    LORECAST_MASTODON_CLIENT_ID and _CLIENT_SECRET stay out: `lorecast auth mastodon` needs the app's
    id and secret to get the access token, posting needs only the token.
    """
    missing = [module for module in ("kubernetes", "yaml") if importlib.util.find_spec(module) is None]
    if missing:
        raise LorecastError(
            f"this command needs the k8s extra ({' and '.join(missing)} missing): pip install 'lorecast[k8s]'")
    from poster.env_file import read_env_file
    from poster.k8s_secret import manifests_yaml, platforms_with_keys, secret_data, secret_manifest

    try:
        values = read_env_file(env_file)
    except FileNotFoundError:
        raise SourceError(env_file, "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SourceError(env_file, f"cannot read it ({error.__class__.__name__})") from None
    chosen = list(dict.fromkeys(platforms)) or platforms_with_keys(values)
    if not chosen:
        prefixes = [f"LORECAST_{platform.upper()}_…" for platform in SECRET_PLATFORMS]
        raise SourceError(env_file, f"no {', '.join(prefixes[:-1])} or {prefixes[-1]} credentials")
    if name is not None and len(chosen) > 1:
        raise click.UsageError(f"--name names one Secret, but the output holds {len(chosen)} "
                               f"({', '.join(chosen)}): add --platform")
    manifests = [
        secret_manifest(name or f"lorecast-{platform}", namespace, secret_data(values, platform, env_file))
        for platform in chosen
    ]
    click.echo(manifests_yaml(manifests), nl=False)
