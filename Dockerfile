# Switchboard on a slim Python, from the hashed lock, as a non-root user.
#   docker build -t switchboard .     (docker-compose.yml builds it for you)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/switchboard
# The lock first: the dependency layer is rebuilt only when the lock changes.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml ./
COPY gateway ./gateway
COPY channels ./channels
COPY routing ./routing
COPY crm_store ./crm_store
COPY operator_ui ./operator_ui
RUN pip install --no-deps . && rm -rf build *.egg-info

RUN useradd --system --uid 10001 --home-dir /var/lib/switchboard --create-home switchboard
USER switchboard
WORKDIR /var/lib/switchboard
RUN mkdir files        # a named volume mounted here starts owned by switchboard
ENV SWITCHBOARD_HTTP__HOST=0.0.0.0 \
    SWITCHBOARD_HTTP__PORT=8080 \
    SWITCHBOARD_STORAGE__DIR=/var/lib/switchboard/files
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
ENTRYPOINT ["switchboard"]
CMD ["serve"]
