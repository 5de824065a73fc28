"""The reply CronJobs (`lorecast reply PLATFORM`, k8s/base/cronjobs-PLATFORM.yaml) and the rules of ops/k8s_check.py
that hold every poster job: a reply job runs as its platform's post job does, its settings are ones `lorecast reply`
accepts, its schedule keeps it off the post runs' ledger lock, it ends before Kubernetes kills it (deadline rule),
and it shares its post job's ledger (ledger rule). The rules are tried on broken copies of the rendered documents,
and once each end to end on a broken copy of the tree."""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import Any

import pytest
from k8s_tree import (
    PLATFORMS,
    POD_SPEC,
    REPLY_PLATFORMS,
    find_named,
    name_of,
    patch_overlay,
    pod_spec_of,
    poster_cronjobs,
)

from ops.k8s_check import (
    check_tree,
    env_read_by_poster,
    platform_commands,
    poster_jobs_bounded,
    poster_ledgers_shared,
    poster_run,
    setting,
)

Document = dict[str, Any]


def _cronjob(documents: list[Document], command: str, platform: str) -> Document:
    return find_named(documents, "CronJob", f"lorecast-{command}-{platform}")


def _container(cronjob: Document) -> Document:
    return pod_spec_of(cronjob)["containers"][0]


def _env(container: Document) -> dict[str, str]:
    return {variable["name"]: variable["value"] for variable in container["env"]}


def _set_env(container: Document, name: str, value: str | None) -> None:
    """Set (or, value None, remove) one env entry of the container."""
    container["env"] = [variable for variable in container["env"] if variable["name"] != name]
    if value is not None:
        container["env"].append({"name": name, "value": value})


# --- the reply CronJobs of the real tree -----------------------------------------------------------------------

def test_every_platform_but_tumblr_has_a_reply_cronjob(rendered) -> None:
    for documents in rendered.values():
        replies = {cronjob["metadata"]["name"]: _container(cronjob)["args"] for cronjob in poster_cronjobs(documents)
                   if poster_run(_container(cronjob))[0] == "reply"}
        assert replies == {f"lorecast-reply-{platform}": ["reply", platform] for platform in REPLY_PLATFORMS}
        assert set(REPLY_PLATFORMS) < set(PLATFORMS)  # tumblr left out on purpose, not forgotten


@pytest.mark.parametrize("platform", REPLY_PLATFORMS)
def test_a_reply_job_runs_as_its_post_job_does(rendered, platform: str) -> None:
    """Same image, Secret, ledger volume, security context, resources and labels; the env differs only in the run's
    deadline and the replies a run, and the Job only in its shorter deadline and its schedule."""
    for documents in rendered.values():
        post, reply = _cronjob(documents, "post", platform), _cronjob(documents, "reply", platform)
        post_pod, reply_pod = copy.deepcopy(pod_spec_of(post)), copy.deepcopy(pod_spec_of(reply))
        post_container, reply_container = post_pod["containers"][0], reply_pod["containers"][0]
        assert (post_container.pop("args"), reply_container.pop("args")) == (["post", platform], ["reply", platform])
        post_env, reply_env = _env(post_container), _env(reply_container)
        del post_container["env"], reply_container["env"]
        assert reply_env == {**post_env, "LORECAST_DEADLINE": "240", "LORECAST_MAX_REPLIES": "5"}
        assert reply_pod == post_pod  # everything else: image, envFrom, volumes, security, resources, restartPolicy
        assert reply["metadata"]["labels"] == post["metadata"]["labels"]
        assert reply["spec"]["jobTemplate"]["spec"]["template"]["metadata"] == \
            post["spec"]["jobTemplate"]["spec"]["template"]["metadata"]  # the poster label: TorchServe admits it

        post_job, reply_job = post["spec"]["jobTemplate"]["spec"], reply["spec"]["jobTemplate"]["spec"]
        assert reply_job["podFailurePolicy"] == post_job["podFailurePolicy"]  # the base's patch reached it
        assert (reply_job["backoffLimit"], reply_job["activeDeadlineSeconds"]) == (1, 300)
        assert reply["spec"]["concurrencyPolicy"] == "Forbid"
        assert reply["spec"]["timeZone"] == post["spec"]["timeZone"]


@pytest.mark.parametrize("platform", REPLY_PLATFORMS)
def test_the_reply_settings_are_what_lorecast_reply_takes(rendered, platform: str, tmp_path: Path,
                                                         monkeypatch) -> None:
    """The container's env, parsed by the real `lorecast reply` options (as in the pod: no .env, no other
    LORECAST_ variables), gives the deadline and reply count the header promises; the check's own reading of the
    settings (ops.k8s_check.setting) agrees with click's."""
    cronjob = _cronjob(rendered["cpu"], "reply", platform)
    container = _container(cronjob)
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("LORECAST_")]:
        monkeypatch.delenv(name)
    for name, value in _env(container).items():
        monkeypatch.setenv(name, value)
    command = platform_commands()["reply"]
    context = command.make_context("reply", list(container["args"][1:]))
    assert context.params["platform"] == platform
    assert (context.params["deadline_s"], context.params["max_replies"]) == (240.0, 5)
    assert context.params["ledger_path"] == "/var/lib/lorecast/posts.db"
    assert context.params["endpoint"] == "http://lorecast-torchserve:8080/predictions/lorecast"
    assert context.params["monthly_cap_usd"] == (10.0 if platform == "twitter" else None)
    for parameter in ("deadline_s", "timeout_s", "ledger_path", "max_replies", "monthly_cap_usd"):
        assert setting(container, {}, "reply", parameter) == context.params[parameter], parameter


# --- the schedules ------------------------------------------------------------------------------------------------

def _field(text: str, low: int, high: int) -> set[int]:
    """The values of one cron field: `*`, `a`, `a-b`, each with an optional `/step`, comma-separated."""
    values = set()
    for part in text.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            start, stop = low, high
        elif "-" in span:
            start, stop = (int(number) for number in span.split("-"))
        else:
            start = int(span)
            stop = high if step else start
        values.update(range(start, stop + 1, int(step or 1)))
    return values


def _minutes_of_day(schedule: str) -> list[int]:
    """The minutes of a day (0-1439, UTC) at which a schedule that runs every day starts a Job."""
    minute, hour, day, month, weekday = schedule.split()
    assert (day, month, weekday) == ("*", "*", "*"), f"{schedule}: not a daily schedule"
    return sorted(60 * h + m for h in _field(hour, 0, 23) for m in _field(minute, 0, 59))


def test_the_cron_reading_of_this_test() -> None:
    assert _minutes_of_day("3-59/10 * * * *")[:7] == [3, 13, 23, 33, 43, 53, 63]
    assert _minutes_of_day("17 */4 * * *") == [17, 257, 497, 737, 977, 1217]
    assert _minutes_of_day("19,49 * * * *")[:3] == [19, 49, 79]
    assert _minutes_of_day("50 2 * * *") == [170]


@pytest.mark.parametrize("platform", REPLY_PLATFORMS)
def test_a_reply_run_never_holds_the_lock_when_a_post_run_starts(rendered, platform: str) -> None:
    """A post run that finds the account's ledger lock held exits 73 and its post waits 4 hours: every reply run,
    started as late as startingDeadlineSeconds allows and killed at activeDeadlineSeconds at the latest, is over
    before the next post run's minute."""
    documents = rendered["cpu"]
    post, reply = _cronjob(documents, "post", platform), _cronjob(documents, "reply", platform)
    assert post["spec"]["timeZone"] == reply["spec"]["timeZone"]
    longest = math.ceil((reply["spec"]["startingDeadlineSeconds"]
                         + reply["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"]) / 60)
    assert longest == 6
    posts = _minutes_of_day(post["spec"]["schedule"])
    for start in _minutes_of_day(reply["spec"]["schedule"]):
        for post_start in posts:
            assert (post_start - start) % 1440 > longest, (f"{name_of(reply)} at minute {start} of the day may hold "
                                                           f"the lock at {name_of(post)}'s start ({post_start})")


def test_the_reply_jobs_start_at_minutes_of_their_own(rendered) -> None:
    """No reply job starts in the same minute as any poster job; Mastodon and Bluesky answer every 10 minutes, X
    (which bills each run's reads) every 30."""
    cronjobs = poster_cronjobs(rendered["cpu"])
    starts = {name_of(cronjob): set(_minutes_of_day(cronjob["spec"]["schedule"])) for cronjob in cronjobs}
    for platform in REPLY_PLATFORMS:
        reply = name_of(_cronjob(rendered["cpu"], "reply", platform))
        for other, minutes in starts.items():
            assert other == reply or not starts[reply] & minutes, (reply, other)
        runs = sorted(starts[reply])
        gaps = {later - earlier for earlier, later in zip(runs, [*runs[1:], runs[0] + 1440])}
        assert gaps == ({30} if platform == "twitter" else {10}), (reply, gaps)


# --- the deadline rule ---------------------------------------------------------------------------------------

_KILLED = ("Kubernetes would kill the run before it stops on its own (exit 75), and its ledger lock would stay taken "
           "until it is stale")


def _reply(rendered, platform: str = "mastodon") -> Document:
    return copy.deepcopy(_cronjob(rendered["cpu"], "reply", platform))


def _deadline(value: str):
    return lambda cronjob: _set_env(_container(cronjob), "LORECAST_DEADLINE", value)


def _args(*extra: str):
    return lambda cronjob: _container(cronjob)["args"].extend(extra)


def _spec(key: str, value: Any = None, where: str = "spec"):
    def change(cronjob: Document) -> None:
        node = cronjob["spec"] if where == "spec" else cronjob["spec"]["jobTemplate"]["spec"]
        if value is None:
            del node[key]
        else:
            node[key] = value
    return change


def _both(*changes):
    return lambda cronjob: [change(cronjob) for change in changes]


@pytest.mark.parametrize("change, problem", [
    (_deadline("260"), None),  # 260 + 30 < 300
    (_deadline("270"), f"the run's deadline (270 s) and one call's timeout (30 s) reach activeDeadlineSeconds (300): "
                       f"{_KILLED}"),
    (_deadline(None), None),  # lorecast reply's default, 240 s
    (_both(_deadline("200"), lambda cronjob: _set_env(_container(cronjob), "LORECAST_TIMEOUT", "100")),
     f"the run's deadline (200 s) and one call's timeout (100 s) reach activeDeadlineSeconds (300): {_KILLED}"),
    (_args("--deadline", "280"),  # the command line wins over the env, as in click
     f"the run's deadline (280 s) and one call's timeout (30 s) reach activeDeadlineSeconds (300): {_KILLED}"),
    (_args("--timeout=90"),
     f"the run's deadline (240 s) and one call's timeout (90 s) reach activeDeadlineSeconds (300): {_KILLED}"),
    (_spec("activeDeadlineSeconds", 200, where="job"),
     f"the run's deadline (240 s) and one call's timeout (30 s) reach activeDeadlineSeconds (200): {_KILLED}"),
    (_spec("activeDeadlineSeconds", where="job"),
     "no activeDeadlineSeconds: a run that hangs keeps the account's ledger lock until another run takes it over as "
     "stale"),
    (_spec("concurrencyPolicy", "Allow"),
     "concurrencyPolicy Allow, not Forbid: a run still going meets the next one (Allow: that one exits 73; Replace: "
     "the running one is killed, mid-post perhaps)"),
    (_spec("concurrencyPolicy"),  # Kubernetes' default is Allow
     "concurrencyPolicy Allow, not Forbid: a run still going meets the next one (Allow: that one exits 73; Replace: "
     "the running one is killed, mid-post perhaps)"),
    (_spec("startingDeadlineSeconds"),
     "no startingDeadlineSeconds: runs the controller missed start late, into the time of the account's next run"),
    (_deadline("soon"), "container poster: LORECAST_DEADLINE 'soon': lorecast reply refuses it ("),
], ids=["260", "270", "default", "timeout-env", "deadline-arg", "timeout-arg", "active-200", "no-active", "allow",
        "no-policy", "no-starting-deadline", "not-a-number"])
def test_the_deadline_rule(rendered, change, problem: str | None) -> None:
    cronjob = _reply(rendered)
    change(cronjob)
    found = [message for _, message in poster_jobs_bounded([cronjob])]
    if problem is not None and problem.endswith("("):
        assert len(found) == 1 and found[0].startswith(problem), found
    else:
        assert found == ([] if problem is None else [problem])


def test_the_deadline_rule_reads_a_config_map(rendered) -> None:
    cronjob = _reply(rendered)
    _set_env(_container(cronjob), "LORECAST_DEADLINE", None)
    _container(cronjob)["envFrom"].append({"configMapRef": {"name": "reply-settings"}})
    settings = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "reply-settings"},
                "data": {"LORECAST_DEADLINE": "299"}}
    assert [message for _, message in poster_jobs_bounded([cronjob, settings])] == [
        f"the run's deadline (299 s) and one call's timeout (30 s) reach activeDeadlineSeconds (300): {_KILLED}"]
    _set_env(_container(cronjob), "LORECAST_DEADLINE", "200")  # env wins over envFrom, as Kubernetes sets them
    assert list(poster_jobs_bounded([cronjob, settings])) == []


def test_the_deadline_rule_holds_every_poster_job_of_the_real_tree(rendered) -> None:
    for documents in rendered.values():
        assert list(poster_jobs_bounded(documents)) == []
        post = _cronjob(documents, "post", "twitter")
        assert (setting(_container(post), {}, "post", "deadline_s"), setting(_container(post), {}, "post",
                                                                               "timeout_s")) == (540.0, 30.0)


def test_a_reply_deadline_too_long_fails_the_tree(tree: Path, rendered) -> None:
    cronjob = _cronjob(rendered["cpu"], "reply", "mastodon")
    index = [variable["name"] for variable in _container(cronjob)["env"]].index("LORECAST_DEADLINE")
    patch_overlay(tree, cronjob, [{"op": "replace", "path": f"{POD_SPEC['CronJob']}/containers/0/env/{index}/value",
                                   "value": "290"}])
    assert check_tree(tree).problems == [
        f"cpu: {name_of(cronjob)}: the run's deadline (290 s) and one call's timeout (30 s) reach "
        f"activeDeadlineSeconds (300): {_KILLED}"]


# --- the ledger rule -----------------------------------------------------------------------------------------

def _not_shared(command: str, platform: str, theirs: str, ours: str) -> str:
    return (f"{command} {platform}: its ledger ({ours}) is not its post job's ({theirs}): the runs of one account "
            "share one ledger, whose lock keeps them apart and whose posts and mentions they read")


def _claim(name: str):
    return lambda _, pod: pod["volumes"][0]["persistentVolumeClaim"].update(claimName=name)


def _ledger(path: str | None):
    return lambda _, pod: _set_env(pod["containers"][0], "LORECAST_LEDGER", path)


def _mount(**fields):
    return lambda _, pod: pod["containers"][0]["volumeMounts"][0].update(fields)


def _empty_dir(_, pod):
    pod["volumes"][0] = {"name": "ledger", "emptyDir": {}}


def _reply_args(*extra: str):
    return lambda _, pod: pod["containers"][0]["args"].extend(extra)


def _ledger_from_config_map(documents, pod):
    _set_env(pod["containers"][0], "LORECAST_LEDGER", None)
    pod["containers"][0]["envFrom"].append({"configMapRef": {"name": "ledger-settings"}})
    documents.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ledger-settings"},
                      "data": {"LORECAST_LEDGER": "/var/lib/lorecast/replies.db"}})


def _on(job: str, claim: str) -> str:
    return f"{job} on PersistentVolumeClaim/{claim}:/posts.db"


_POST_BLUESKY = _on("CronJob/lorecast-post-bluesky", "lorecast-ledger-bluesky")


@pytest.mark.parametrize("change, problem", [
    (_claim("lorecast-ledger-mastodon"),
     _not_shared("reply", "bluesky", _POST_BLUESKY, "PersistentVolumeClaim/lorecast-ledger-mastodon:/posts.db")),
    (_ledger("/var/lib/lorecast/replies.db"),
     _not_shared("reply", "bluesky", _POST_BLUESKY, "PersistentVolumeClaim/lorecast-ledger-bluesky:/replies.db")),
    (_ledger_from_config_map,
     _not_shared("reply", "bluesky", _POST_BLUESKY, "PersistentVolumeClaim/lorecast-ledger-bluesky:/replies.db")),
    (_reply_args("--ledger=/var/lib/lorecast/replies.db"),
     _not_shared("reply", "bluesky", _POST_BLUESKY, "PersistentVolumeClaim/lorecast-ledger-bluesky:/replies.db")),
    (_mount(subPath="replies"),
     _not_shared("reply", "bluesky", _POST_BLUESKY, "PersistentVolumeClaim/lorecast-ledger-bluesky:/replies/posts.db")),
    # The same file of the same claim, mounted elsewhere: shared.
    (lambda documents, pod: (_mount(mountPath="/data")(documents, pod), _ledger("/data/posts.db")(documents, pod)),
     None),
    (_empty_dir, "container poster: the ledger /var/lib/lorecast/posts.db is on the volume ledger (emptyDir), not a "
                 "PersistentVolumeClaim: it would not outlive the pod, and with it what keeps a text or a reply from "
                 "going out twice"),
    (_ledger("/tmp/posts.db"), "container poster: the ledger /tmp/posts.db is on the volume tmp (emptyDir), not a "
                               "PersistentVolumeClaim: it would not outlive the pod, and with it what keeps a text or "
                               "a reply from going out twice"),
    (_ledger("/srv/posts.db"),
     "container poster: the ledger /srv/posts.db is on no volume: the container's own filesystem, gone after each run"),
    (_ledger(None), "container poster: the ledger ledger/posts.db is a relative path: where it lands depends on the "
                    "image's working directory (set an absolute --ledger / LORECAST_LEDGER on the ledger volume)"),
], ids=["claim", "file", "config-map", "arg", "sub-path", "mounted-elsewhere", "empty-dir", "tmp", "no-volume",
        "relative"])
def test_the_ledger_rule(rendered, change, problem: str | None) -> None:
    documents = copy.deepcopy(rendered["cpu"])
    change(documents, pod_spec_of(_cronjob(documents, "reply", "bluesky")))
    found = [(name_of(document), message) for document, message in poster_ledgers_shared(documents)]
    assert found == ([] if problem is None else [("CronJob/lorecast-reply-bluesky", problem)])


def test_the_ledger_rule_holds_feedback_jobs_too(rendered) -> None:
    documents = copy.deepcopy(rendered["cpu"])
    _claim("lorecast-ledger-twitter")(documents, pod_spec_of(_cronjob(documents, "feedback", "tumblr")))
    assert [(name_of(document), message) for document, message in poster_ledgers_shared(documents)] == [
        ("CronJob/lorecast-feedback-tumblr", _not_shared(
            "feedback", "tumblr", _on("CronJob/lorecast-post-tumblr", "lorecast-ledger-tumblr"),
            "PersistentVolumeClaim/lorecast-ledger-twitter:/posts.db"))]


def test_a_platform_without_a_post_job_is_a_bot_that_only_replies(rendered) -> None:
    documents = [document for document in copy.deepcopy(rendered["cpu"])
                 if document["metadata"]["name"] != "lorecast-post-bluesky"]
    _claim("lorecast-ledger-replies")(documents, pod_spec_of(_cronjob(documents, "reply", "bluesky")))
    assert list(poster_ledgers_shared(documents)) == []


def test_with_two_accounts_a_reply_job_shares_the_ledger_of_the_post_job_with_its_secret(rendered) -> None:
    documents = copy.deepcopy(rendered["cpu"])
    second = copy.deepcopy(_cronjob(documents, "post", "bluesky"))
    second["metadata"]["name"] = "lorecast-post-bluesky-2"
    pod = pod_spec_of(second)
    pod["containers"][0]["envFrom"][0]["secretRef"]["name"] = "lorecast-bluesky-2"
    _claim("lorecast-ledger-bluesky-2")(documents, pod)
    documents.append(second)
    assert list(poster_ledgers_shared(documents)) == []  # the first account's reply job: its Secret's post job

    reply = pod_spec_of(_cronjob(documents, "reply", "bluesky"))
    reply["containers"][0]["envFrom"][0]["secretRef"]["name"] = "lorecast-bluesky-2"  # now the second account's
    assert [message for _, message in poster_ledgers_shared(documents)] == [_not_shared(
        "reply", "bluesky", _on("CronJob/lorecast-post-bluesky-2", "lorecast-ledger-bluesky-2"),
        "PersistentVolumeClaim/lorecast-ledger-bluesky:/posts.db")]
    _claim("lorecast-ledger-bluesky-2")(documents, reply)
    assert list(poster_ledgers_shared(documents)) == []


def test_a_reply_job_on_another_ledger_fails_the_tree(tree: Path, rendered) -> None:
    cronjob = _cronjob(rendered["cpu"], "reply", "twitter")
    patch_overlay(tree, cronjob, [{"op": "replace", "value": "lorecast-ledger-mastodon",
                                   "path": f"{POD_SPEC['CronJob']}/volumes/0/persistentVolumeClaim/claimName"}])
    assert check_tree(tree).problems == [f"cpu: {name_of(cronjob)}: " + _not_shared(
        "reply", "twitter", _on("CronJob/lorecast-post-twitter", "lorecast-ledger-twitter"),
        "PersistentVolumeClaim/lorecast-ledger-mastodon:/posts.db")]


# --- the env rule, per command -------------------------------------------------------------------------------

def test_an_env_var_is_checked_against_the_command_the_container_runs(rendered) -> None:
    post = copy.deepcopy(_cronjob(rendered["cpu"], "post", "mastodon"))
    _set_env(_container(post), "LORECAST_MAX_REPLIES", "5")  # read by lorecast reply, not by lorecast post
    assert [message for _, message in env_read_by_poster([post])] == [
        "container poster: env LORECAST_MAX_REPLIES is not read by lorecast post"]
    assert list(env_read_by_poster([_reply(rendered)])) == []

    other = copy.deepcopy(post)
    _container(other)["args"] = ["--version"]  # names no command: any of the three may read it
    _set_env(_container(other), "LORECAST_MAX_REPLEIS", "5")
    assert [message for _, message in env_read_by_poster([other])] == [
        "container poster: env LORECAST_MAX_REPLEIS is not read by the poster (lorecast post / reply / feedback)"]


@pytest.mark.parametrize("container, run", [
    ({"args": ["reply", "twitter"]}, ("reply", "twitter")),
    ({"command": ["lorecast"], "args": ["feedback", "tumblr", "--days", "3"]}, ("feedback", "tumblr")),
    ({"command": ["/usr/local/bin/lorecast", "post", "mastodon"]}, ("post", "mastodon")),
    ({"args": ["reply", "--help"]}, None),
    ({"args": ["ledger", "list"]}, None),
    ({"command": ["sh", "-c", "sleep 1"]}, None),
    ({}, None),
])
def test_which_command_a_container_runs(container: Document, run: tuple[str, str] | None) -> None:
    assert poster_run(container) == run
