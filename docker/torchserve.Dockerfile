# The lorecast TorchServe image: TorchServe 0.12.0 on Java 17 with what the handler imports, and one .mar baked in
# (model_store/lorecast.mar, built by `make demo` or `lorecast archive`). One image per model version: a rollout
# is a tag change (README, "Deploy to Kubernetes"). Build from the repository root; `make images` builds both
# variants and the poster image:
#   docker build -f docker/torchserve.Dockerfile -t ghcr.io/lorecast/torchserve:0.1.0-cpu .
#   docker build -f docker/torchserve.Dockerfile -t ghcr.io/lorecast/torchserve:0.1.0-gpu \
#       --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 .
# Bookworm, not the newest Debian: TorchServe 0.12.0 needs Java 17, which later Debian releases no longer ship.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS deps
# torch comes first and on its own, from the index of the wanted build (CPU or a CUDA version), so that pip
# never swaps it for PyPI's default build when the other requirements are installed.
ARG TORCH=torch==2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir --index-url "$TORCH_INDEX_URL" "$TORCH"
# The requirements of the `serve` extra, read from pyproject.toml, and not the project itself: the .mar carries
# its own serve_handler/ and textrules/ packages, and an installed copy would hide a file missing from the archive.
COPY pyproject.toml /tmp/pyproject.toml
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("/tmp/pyproject.toml", "rb"))["project"]["optional-dependencies"]["serve"]))' \
        > /tmp/serve-requirements.txt \
    && pip install --no-cache-dir -r /tmp/serve-requirements.txt

FROM ${PYTHON_IMAGE}
# The JRE's post-install step fails without this directory, which the slim image removes.
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless tini \
    && rm -rf /var/lib/apt/lists/*
# /var/lib/torchserve: the working directory, where TorchServe writes logs/ (an emptyDir in Kubernetes).
RUN groupadd --gid 10001 lorecast \
    && useradd --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin lorecast \
    && mkdir -p /var/lib/torchserve && chown 10001:10001 /var/lib/torchserve
COPY --from=deps /opt/venv /opt/venv
# TEMP: java.io.tmpdir, where TorchServe extracts the .mar and puts the worker's socket; TMPDIR: the launcher's
# pid file and the joined config. Both /tmp, an emptyDir in Kubernetes (the root filesystem is read-only there).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TEMP=/tmp \
    TMPDIR=/tmp \
    TORCHSERVE_CONFIG_DIR=/etc/lorecast/torchserve.d
COPY --chmod=0755 docker/torchserve-entrypoint.sh /usr/local/bin/lorecast-torchserve
COPY --chmod=0755 docker/torchserve-ready.py /usr/local/bin/torchserve-ready
# The default config (a Kubernetes ConfigMap mounted on this directory replaces it).
COPY k8s/base/torchserve-config.properties /etc/lorecast/torchserve.d/10-cluster.properties
# Last, so that a new model rebuilds and pushes only this layer.
COPY model_store/lorecast.mar /opt/lorecast/model_store/lorecast.mar
WORKDIR /var/lib/torchserve
USER 10001:10001
EXPOSE 8080
# tini reaps the processes TorchServe leaves behind and passes the stop signal on to the entrypoint.
ENTRYPOINT ["tini", "--", "lorecast-torchserve"]
