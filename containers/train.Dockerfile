# syntax=docker/dockerfile:1
#
# The training image for `--compute batch`: Node, the lockfile's dependencies (with the GPU
# backend) and the code-package bootstrap; no pipeline code. AWS Batch runs the job's command
# (`train --compute local ...`) through the bootstrap, which downloads the run's code package
# (MLOPS_CODE_PACKAGE, uploaded by the train stage) and runs that code (pipeline/compute/). The
# image changes only when the dependencies or this file do: the images workflow tags it with
# their hash (`pipeline images`).
#
# Build from the repository root (BuildKit reads containers/train.Dockerfile.dockerignore):
#   docker build -f containers/train.Dockerfile -t mlops-train .

# Node is copied from the official image instead of downloaded: the CUDA base has no Node, and
# the official binaries only need glibc 2.28 (Ubuntu 22.04 has 2.35).
FROM node:24-bookworm-slim AS node

# tfjs-node-gpu 4.22 loads libtensorflow 2.9, built for CUDA 11 and cuDNN 8: the CUDA 11.8
# runtime and cuDNN 8 satisfy it (CUDA minor-version compatibility); CUDA 12 would not.
FROM nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04 AS base
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
    && node --version

# Dependencies are installed on the same OS as the final image, so native modules match its
# glibc; the compilers (for a native module without a prebuilt binary) stay in this stage.
FROM base AS deps
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# tfjs-node-gpu downloads libtensorflow (GPU) while installing, so it is not in package.json
# (installs without network would fail); --omit=dev again, or npm install would add devDependencies.
# The CPU-only tfjs-node (an optional dependency) is removed: the GPU package replaces it, and its
# own libtensorflow would add hundreds of MB that every Batch instance pulls.
RUN npm ci --omit=dev \
    && npm install --no-save --omit=dev @tensorflow/tfjs-node-gpu@4.22.0 \
    && rm -rf node_modules/@tensorflow/tfjs-node \
    && npm cache clean --force

FROM base AS train
ENV NODE_ENV=production
RUN groupadd --system --gid 10001 mlops \
    && useradd --system --uid 10001 --gid mlops --create-home --home-dir /home/mlops mlops
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# The lockfile stays in the image: the bootstrap refuses a code package written for another one.
COPY package.json package-lock.json ./
COPY containers/dist/train-bootstrap.mjs ./train-bootstrap.mjs
# Everything here stays owned by root: the job can read it, not change it. The code package is
# unpacked under the job's own temporary folder.
USER mlops
ENTRYPOINT ["node", "/app/train-bootstrap.mjs"]
# AWS Batch replaces CMD with the job's command (train --compute local --run-id ... --store s3://...).
CMD ["train", "--compute", "local"]
