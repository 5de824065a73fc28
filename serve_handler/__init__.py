"""The TorchServe worker: handler.py (the one class TorchServe loads) and exactly what it imports.

`lorecast archive` packs this package, unflattened, into every .mar beside textrules/, the text rules it
shares with the corpus build. Of ours it imports only itself and textrules; no click, psutil or requests
(tests/test_house.py, tests/test_worker_package.py). Build and operations tooling lives in ops/.
"""
