# syntax=docker/dockerfile:1
#
# The inference image for SageMaker (and for running the local endpoint in a container): the
# SageMaker custom-container contract is `docker run IMAGE serve`, GET /ping and
# POST /invocations on port 8080, and the model unpacked into /opt/ml/model.
#
# Build from the repository root (BuildKit reads containers/serve.Dockerfile.dockerignore):
#   docker build -f containers/serve.Dockerfile -t mlops-serve .
# Try it locally:
#   docker run --rm -p 8080:8080 -v "$PWD/model:/opt/ml/model:ro" mlops-serve serve

# No CUDA, no tfjs backend: the server ranks with the plain-TypeScript runtime (pipeline/model/),
# a few arrays of floats per request. The optional tfjs-node is left out (it would download
# libtensorflow for nothing).
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional && npm cache clean --force

FROM node:20-bookworm-slim AS serve
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
# SageMaker mounts the model here; the folder exists for `docker run` without a mount too.
RUN mkdir -p /opt/ml/model
# The official image's unprivileged user; the code stays owned by root (read-only to it).
USER node
EXPOSE 8080
# SageMaker passes `serve` as the argument, which replaces CMD: ENTRYPOINT must not contain it,
# or the CLI would receive `serve serve`. `pipeline serve` listens on 8080 and loads
# /opt/ml/model by default.
ENTRYPOINT ["node", "bin/pipeline.js"]
CMD ["serve"]
