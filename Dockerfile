# gw: docker build -t gw . && docker run --rm -p 8000:8000 gw
# Serves the bundled samples (gateway.yaml); mount your own: -v $PWD/specs:/srv/gw/specs -v $PWD/stubs:/srv/gw/stubs
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN python -m venv /opt/gw && /opt/gw/bin/pip install --no-cache-dir --quiet .

FROM python:3.11-slim
ENV PATH=/opt/gw/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 gw && useradd --system --uid 10001 --gid gw --home-dir /srv/gw gw
COPY --from=build /opt/gw /opt/gw
WORKDIR /srv/gw
COPY --chown=10001:10001 gateway.yaml ./
COPY --chown=10001:10001 specs ./specs
COPY --chown=10001:10001 stubs ./stubs
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/_gw/health', timeout=2).status != 200)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["gw"]
CMD ["serve", "gateway.yaml", "--host", "0.0.0.0", "--port", "8000"]
