# Stand-in for redis:7, for scripts/compose-check.sh only: Debian bookworm's Redis 7.0.
ARG DEBIAN=bookplate/debian:bookworm
FROM ${DEBIAN}
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/*
USER redis
WORKDIR /var/lib/redis
EXPOSE 6379
# As the official image: reachable from the compose network, no password, no protected mode.
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
