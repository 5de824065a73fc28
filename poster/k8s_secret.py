"""Kubernetes Secret manifests of the posters' platform credentials, taken from a `.env` file.

    data = secret_data(read_env_file(path), "twitter", path)    # {"LORECAST_TWITTER_CONSUMER_KEY": ..., ...}
    print(manifests_yaml([secret_manifest("lorecast-twitter", "lorecast", data)]), end="")

One Secret per platform (`lorecast-<platform>` unless named otherwise), type Opaque, whose `stringData` keys are
the LORECAST_… variable names the poster reads, so that a CronJob loads them with `envFrom: secretRef`. What goes
in is SECRET_KEYS, one entry per platform: the variables a post run needs (all required, none empty) and the
account's settings, carried when the file has them:
  twitter   LORECAST_TWITTER_CONSUMER_KEY, _CONSUMER_SECRET, _ACCESS_TOKEN, _ACCESS_SECRET
  tumblr    the same four and LORECAST_TUMBLR_BLOG; LORECAST_TUMBLR_TAGS when present
  mastodon  LORECAST_MASTODON_INSTANCE, _ACCESS_TOKEN; LORECAST_MASTODON_VISIBILITY when present. Not the app's
            LORECAST_MASTODON_CLIENT_ID and _CLIENT_SECRET: `lorecast auth mastodon` needs them to get the token,
            posting does not, and a Secret holds no more than the pods need.
  bluesky   LORECAST_BLUESKY_HANDLE, _APP_PASSWORD; LORECAST_BLUESKY_SERVICE when present
The settings are not secret, but keeping them beside the account's keys lets one Secret configure one account
while the CronJob manifests hold no user data.
The manifests are built with the `kubernetes` client's models (a misspelt field fails at once) and serialized by
its ApiClient into YAML documents, each opened by `---`, for `kubectl apply -f -`. Errors name the file and the
variables, never a value. `kubernetes` and `yaml` are imported inside the functions that need them (the k8s extra).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lorecast.errors import SourceError
from poster.credentials import OAuth1Credentials


@dataclasses.dataclass(frozen=True)
class SecretKeys:
    """The variables of one platform's Secret."""

    required: tuple[str, ...]  # what a post run needs: every one in the file, not empty
    optional: tuple[str, ...]  # the account's settings, carried when the file has them
    hint: str  # where the required values come from, for the error that names the missing ones


def _oauth1(platform: str) -> tuple[str, ...]:
    """The four variables of the platform's OAuth1 credentials, e.g. LORECAST_TWITTER_ACCESS_TOKEN."""
    return tuple(f"LORECAST_{platform.upper()}_{part.name.upper()}" for part in dataclasses.fields(OAuth1Credentials))


_OAUTH1_HINT = "`lorecast auth {}` prints the access token and secret"
SECRET_KEYS = {
    "twitter": SecretKeys(_oauth1("twitter"), (), _OAUTH1_HINT.format("twitter")),
    # The blog is required: `lorecast post tumblr` cannot run without it, and no CronJob sets it.
    "tumblr": SecretKeys((*_oauth1("tumblr"), "LORECAST_TUMBLR_BLOG"), ("LORECAST_TUMBLR_TAGS",),
                         _OAUTH1_HINT.format("tumblr") + "; LORECAST_TUMBLR_BLOG names the blog"),
    "mastodon": SecretKeys(("LORECAST_MASTODON_INSTANCE", "LORECAST_MASTODON_ACCESS_TOKEN"),
                           ("LORECAST_MASTODON_VISIBILITY",), "`lorecast auth mastodon` prints the access token"),
    "bluesky": SecretKeys(("LORECAST_BLUESKY_HANDLE", "LORECAST_BLUESKY_APP_PASSWORD"), ("LORECAST_BLUESKY_SERVICE",),
                          "`lorecast auth bluesky` prints them, for an app password made in Bluesky's settings"),
}
SECRET_PLATFORMS = tuple(SECRET_KEYS)
_LABELS = {"app.kubernetes.io/name": "lorecast", "app.kubernetes.io/component": "poster"}

# Kubernetes object names: a Secret's name is a DNS subdomain (RFC 1123), a namespace a DNS label.
# Use them with fullmatch.
DNS_SUBDOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS_LABEL = re.compile(r"(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def platforms_with_keys(values: Mapping[str, str]) -> list[str]:
    """The platforms that have at least one of their required variables in `values`."""
    return [platform for platform, keys in SECRET_KEYS.items() if any(name in values for name in keys.required)]


def secret_data(values: Mapping[str, str], platform: str, source: Path) -> dict[str, str]:
    """The Secret's keys and values for `platform` from the variables of the .env file `source`."""
    keys = SECRET_KEYS[platform]
    if not any(name in values for name in keys.required):
        raise SourceError(source, f"no LORECAST_{platform.upper()}_… credentials for {platform}")
    missing = [name for name in keys.required if not values.get(name)]
    if missing:
        raise SourceError(source, f"{platform}: missing {', '.join(missing)} ({keys.hint})")
    return {name: values[name] for name in (*keys.required, *keys.optional) if name in values}


def secret_manifest(name: str, namespace: str, data: Mapping[str, str]) -> dict[str, Any]:
    """The Secret as the plain dict the API server takes, built through the kubernetes client's models."""
    from kubernetes.client import ApiClient, V1ObjectMeta, V1Secret

    secret = V1Secret(
        api_version="v1", kind="Secret", type="Opaque", string_data=dict(data),
        metadata=V1ObjectMeta(name=name, namespace=namespace, labels=dict(_LABELS)),
    )
    with ApiClient() as client:
        return client.sanitize_for_serialization(secret)


def manifests_yaml(manifests: list[dict[str, Any]]) -> str:
    """YAML documents, each opened by `---`, keys in the order the client wrote them."""
    import yaml

    return yaml.safe_dump_all(manifests, explicit_start=True, sort_keys=False, allow_unicode=True)
