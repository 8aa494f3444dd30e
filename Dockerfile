# syntax=docker/dockerfile:1
# The operator's image. The build stage installs the package and its dependencies (binary wheels)
# into a venv; the final stage is the slim Python image with that venv only: no compiler, no pip,
# no sources. It runs as a non-root UID and needs no writable root filesystem (the chart mounts an
# emptyDir at /tmp and sets readOnlyRootFilesystem). tests/unit/test_dockerfile.py runs these steps
# in a venv on every CI run (no container runtime is needed for that).
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ONLY_BINARY=:all:
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
RUN python -m venv /opt/seppmail-lifecycle
RUN /opt/seppmail-lifecycle/bin/pip install --no-compile --no-binary=seppmail-lifecycle .
RUN /opt/seppmail-lifecycle/bin/pip uninstall --yes pip setuptools
RUN /opt/seppmail-lifecycle/bin/seppmail-lifecycle version

FROM python:${PYTHON_VERSION}-slim
LABEL org.opencontainers.image.title="seppmail-lifecycle" \
      org.opencontainers.image.description="Kubernetes operator for the seppmail.cloud lifecycle" \
      org.opencontainers.image.source="https://github.com/seppmail/seppmail-lifecycle"
COPY --from=build /opt/seppmail-lifecycle /opt/seppmail-lifecycle
ENV PATH=/opt/seppmail-lifecycle/bin:/usr/local/bin:/usr/bin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# 65532: the "nonroot" user of distroless images; the chart runs it with the same UID and GID.
USER 65532:65532
WORKDIR /tmp
EXPOSE 8080 9090
ENTRYPOINT ["seppmail-lifecycle"]
CMD ["run", "--all-namespaces", "--liveness=http://0.0.0.0:8080/healthz", "--metrics=http://0.0.0.0:9090/metrics"]
