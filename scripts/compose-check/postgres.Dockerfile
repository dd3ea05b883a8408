# Stand-in for postgres:16, for scripts/compose-check.sh only: Debian bookworm's PostgreSQL 15
# behind an entry point that reads the official image's POSTGRES_USER, POSTGRES_PASSWORD and
# POSTGRES_DB and keeps its data in /var/lib/postgresql/data.
ARG DEBIAN=bookplate/debian:bookworm
FROM ${DEBIAN}
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
 && chmod 700 /var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
ENTRYPOINT ["sh", "/usr/local/bin/postgres-entrypoint.sh"]
