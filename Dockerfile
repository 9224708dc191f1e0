# One image for every role (worker, sandbox, watcher, intake); docker-compose.yml picks
# the command.
# The build stage compiles the Cython kernels (ingest/*_kernel.pyx) into a wheel; the
# image itself needs no compiler.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY ingest ingest
COPY worker worker
COPY laaffic_batch laaffic_batch
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
ENV LAAFFIC_DATA_DIR=/data
VOLUME ["/data"]
ENTRYPOINT ["laaffic-batch"]
