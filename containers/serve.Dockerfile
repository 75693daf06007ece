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

# Node and one file: containers/dist/serve.js, the server with the few pure-JavaScript packages it
# uses bundled in (`npm run bundle`, committed like the actions' bundles). No npm install and no
# node_modules: tfjs, DuckDB and the AWS and Snowflake SDKs serve the other stages, and the server
# ranks with the WebAssembly kernels of pipeline/model/. Node 24: maintained until 2028.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY containers/dist/serve.js ./serve.js
# SageMaker mounts the model here; the folder exists for `docker run` without a mount too.
RUN mkdir -p /opt/ml/model
# The official image's unprivileged user; the file stays owned by root (read-only to it).
USER node
EXPOSE 8080
# SageMaker passes `serve` as the argument, which replaces CMD: ENTRYPOINT must not contain it,
# or the server would receive `serve serve`. It listens on 8080 and loads /opt/ml/model by
# default; serve.* settings come from MLOPS_SERVE_* variables (the SageMaker model's Environment).
ENTRYPOINT ["node", "/app/serve.js"]
CMD ["serve"]
