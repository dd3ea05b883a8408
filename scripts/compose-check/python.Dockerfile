# Stand-in for python:3.11-slim, for scripts/compose-check.sh only: Debian bookworm's own
# Python 3.11 on a base image built locally with debootstrap (no registry to pull from).
# extra-ca/ holds the building machine's own CA certificates (/usr/local/share/ca-certificates,
# copied by the script), so that pip reaches the package index from a network that inspects TLS.
ARG DEBIAN=bookplate/debian:bookworm
FROM ${DEBIAN}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY extra-ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
