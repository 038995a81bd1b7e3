# syntax=docker/dockerfile:1
# Concord in a container: the node (Bun, from the npm package the project pins) and
# nats-server (Debian's package), in one image; compose.yaml runs one container of each
# per "machine" from the directories `concord init` writes. Paths match concord init's
# defaults, so the containers run the same commands as its systemd units:
#   /opt/concord/node_modules/.bin/bun /opt/concord/src/main.ts node --config node.json
#   /usr/sbin/nats-server -c nats.conf
# from /etc/concord/nats and /etc/concord/node (a machine directory's two service
# directories, each mounted read-only into its own container), data in /var/lib/concord.
# They run as CONCORD_UID:CONCORD_GID (the owner of the files concord init wrote), never
# as root. No secret is baked in: .dockerignore keeps concord-deploy/, data/ and
# node_modules/ out.
FROM node:22-bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends nats-server openssl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && test -x /usr/sbin/nats-server

WORKDIR /opt/concord
# Dependencies first (a layer that changes only with the lockfile); bun comes with them.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund \
 && npm cache clean --force \
 && node_modules/.bin/bun --version
COPY . .

# `concord …` anywhere in the container; the node's data directory, the user's (a new
# volume takes its owner from it); the service directories go under /etc/concord.
ARG CONCORD_UID=1000
ARG CONCORD_GID=1000
RUN printf '#!/bin/sh\nexec /opt/concord/node_modules/.bin/bun /opt/concord/src/main.ts "$@"\n' > /usr/local/bin/concord \
 && chmod 0755 /usr/local/bin/concord \
 && install -d -m 0700 -o "$CONCORD_UID" -g "$CONCORD_GID" /var/lib/concord \
 && install -d -m 0711 /etc/concord

# The containers' root filesystem is read-only (compose.yaml): Bun's transpiler cache (under
# $HOME) is off, and SQLite's temporary files go to the /tmp tmpfs.
ENV BUN_RUNTIME_TRANSPILER_CACHE_PATH=0 \
    HOME=/tmp \
    TMPDIR=/tmp
WORKDIR /etc/concord
USER ${CONCORD_UID}:${CONCORD_GID}
EXPOSE 4222 6222 8080
CMD ["concord", "--help"]
