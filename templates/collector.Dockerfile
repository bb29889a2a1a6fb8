# The collector's image: `weir collect` alone, for Cloud Run (terraform/: google_cloud_run_v2_service
# "collector") or any container host. Built from the same package as the Flex Template's image.
#
# Build from the repository root:  make -C templates collector-image   (see templates/README.md)
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY templates/collector-requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt

# The whole source, as setup.py maps it; only the collector's dependencies are installed.
COPY setup.py pyproject.toml README.md LICENSE NOTICE /src/
COPY weir /src/weir
COPY pipelines /src/pipelines
COPY transforms /src/transforms
COPY schemas /src/schemas
COPY tracker /src/tracker
RUN pip install --no-cache-dir --no-deps /src \
    && rm -rf /src \
    && cd / && python -c "import weir.cli, weir.collector.server, weir.collector.geo, weir.tracker; weir.tracker.script()"

# No root, no writable state: the collector runs with --no-spill here (Cloud Run's disk is memory).
USER 65532:65532
ENV WEIR_HOME=/tmp/weir
EXPOSE 8080
ENTRYPOINT ["weir"]
CMD ["collect", "--host", "0.0.0.0", "--port", "8080", "--no-spill", "--trusted-proxy", "cloud-run"]
