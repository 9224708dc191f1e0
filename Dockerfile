# One image for every role (worker, sandbox, watcher, intake); docker-compose.yml picks
# the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ingest ingest
COPY worker worker
COPY laaffic_batch laaffic_batch
RUN pip install --no-cache-dir .
ENV LAAFFIC_DATA_DIR=/data
VOLUME ["/data"]
ENTRYPOINT ["laaffic-batch"]
