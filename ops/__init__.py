"""Build and operations tooling around the worker: it runs on the developer's or the CI's machine, never inside
TorchServe.

    archive.py, archive_check.py    `lorecast archive [--check]`: pack serve_handler/ and textrules/ into a .mar
    local_server.py                 `lorecast serve`: a local TorchServe in its own process group
    process_group.py, torchserve_config.py, torchserve_logs.py    what local_server.py stands on
    schema_doc.py                   the README's request and response tables, rendered from the worker's schemas
    k8s_check.py                    `make k8s-check`: render, validate and hold k8s/ to the house rules
    config.properties               the default TorchServe config of `lorecast serve start`
    TORCHSERVE.md                   TorchServe 0.12.0's behaviour as measured here, which the code relies on
"""
