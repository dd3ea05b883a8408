# Bookplate: the API (default command), the worker (`bookplate worker`) or any CLI command.
# BASE is any Debian-based image with Python 3.11+ as `python3` and apt; scripts/compose-check.sh
# builds with a locally made one (docs/operations.md, "Containers").
ARG BASE=python:3.11-slim
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends xmlsec1 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN python3 -m venv /app/.venv && /app/.venv/bin/pip install --no-cache-dir -e .
ENV PATH=/app/.venv/bin:$PATH \
    BOOKPLATE_SIS_SPOOL=/var/lib/bookplate/sis \
    XDG_DATA_HOME=/var/lib
RUN useradd --system --home /var/lib/bookplate bookplate \
 && mkdir -p /var/lib/bookplate/sis && chown -R bookplate /var/lib/bookplate
USER bookplate
EXPOSE 8000
HEALTHCHECK CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready')"
CMD ["bookplate", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
