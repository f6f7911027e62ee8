# bureau-stats: one image for the Prefect server, the deploy step and the worker
# (docker-compose.yml). The project is installed editable in /app so that the deployments'
# entrypoints (flows/*.py, prefect.yaml) and the installed package are the same files.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    DO_NOT_TRACK=1 \
    GX_ANALYTICS_ENABLED=false \
    PREFECT_HOME=/var/lib/prefect \
    BUREAU_STATS_VAR_DIR=/data/var \
    BUREAU_STATS_LANDING=/data/landing \
    BUREAU_STATS_DATA_DOCS_DIR=/data/data_docs \
    BUREAU_STATS_REPORTS_DIR=/data/reports

# Fonts with CJK glyphs for the report's charts; tini reaps the flow-run subprocesses.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk tini \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 bureau \
    && mkdir -p /app /data/var /data/landing /data/data_docs /data/reports /var/lib/prefect \
    && chown -R bureau /app /data /var/lib/prefect

WORKDIR /app

# Dependencies first, in a layer of their own: rebuilt only when pyproject.toml or the lock
# file change, not when the code does. The lock file (requirements.lock, exact versions) is
# used when the repository has one, else the ranges of pyproject.toml.
COPY --chown=bureau pyproject.toml requirements.lock* ./
RUN if [ -f requirements.lock ]; then pip install -r requirements.lock; \
    else python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt; fi

# Then the code, installed without resolving the dependencies again.
COPY --chown=bureau README.md ./
COPY --chown=bureau bureau_stats ./bureau_stats
COPY --chown=bureau connectors ./connectors
COPY --chown=bureau expectations ./expectations
COPY --chown=bureau warehouse ./warehouse
COPY --chown=bureau metrics ./metrics
COPY --chown=bureau report ./report
COPY --chown=bureau tasks ./tasks
COPY --chown=bureau flows ./flows
COPY --chown=bureau demo_data ./demo_data
COPY --chown=bureau prefect.yaml ./
RUN pip install --no-deps -e . && pip check && bureau-stats --help >/dev/null

USER bureau
VOLUME ["/data/landing", "/data/data_docs", "/data/reports", "/data/var", "/var/lib/prefect"]
ENTRYPOINT ["tini", "--"]
CMD ["bureau-stats", "--help"]
