"""The posters: small CronJob programs that publish the best generated texts and keep a ledger of them.

    inference.py     the client of TorchServe's inference API (contract 5, parsed by response_schema.json)
    platforms/       one file per platform (X, Tumblr, stdout) over a shared signed-HTTP base
    ledger.py        the SQLite ledger (contract 6): one row per post attempt, locks, engagement snapshots
    run.py           one `lorecast post` run: claim, ask, send, record; `feedback` collects engagement
    commands/        the `lorecast` subcommands (generate, post, feedback, auth, ledger, k8s)

Imports only requests, requests-oauthlib, jsonschema, click, the standard library, lorecast.errors and
textrules: a poster run never loads torch or transformers (it runs in a slim image).
"""
