# The lorecast poster image: `lorecast post|feedback|ledger|auth` with the base install and the poster extra only
# (click, tqdm, requests, requests-oauthlib, jsonschema): no torch. Build from the repository root (`make images` does):
#   docker build -f docker/poster.Dockerfile -t ghcr.io/lorecast/poster:0.1.0 .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# What the distribution's wheel is built from (pyproject.toml lists these packages; README is its long
# description). tests/, benchmarks/ and model_store/ stay out.
COPY pyproject.toml README.md config.properties /src/
COPY lorecast /src/lorecast
COPY dataset /src/dataset
COPY textrules /src/textrules
COPY trainer /src/trainer
COPY serve_handler /src/serve_handler
COPY ops /src/ops
COPY poster /src/poster
RUN pip install --no-cache-dir "/src[poster]"

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 lorecast \
    && useradd --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin lorecast
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# A poster run must not import torch or transformers (DESIGN): fail the build if a dependency pulled one in, and
# if the commands do not start.
RUN python -c 'import importlib.util, sys; found = [name for name in ("torch", "transformers") if importlib.util.find_spec(name)]; sys.exit(f"the poster image must not hold {found}" if found else 0)' \
    && lorecast post --help > /dev/null
# The ledger's home (a PersistentVolumeClaim in Kubernetes). The working directory stays an empty, read-only one:
# the CLI reads ./.env from it, and a stray file on the ledger volume must not become settings.
RUN mkdir -p /var/lib/lorecast /opt/lorecast && chown 10001:10001 /var/lib/lorecast
WORKDIR /opt/lorecast
USER 10001:10001
ENTRYPOINT ["lorecast"]
CMD ["--help"]
