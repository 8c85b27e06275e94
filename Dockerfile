# The aedetect image of compose.yaml: the service, the Celery worker, PostgreSQL and S3 support.
# One image for API processes and workers; the command chooses (aedetect serve | aedetect worker).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

RUN useradd --create-home --uid 10001 aedetect
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install ".[server,postgres,celery,s3]"

USER aedetect
WORKDIR /home/aedetect
ENV AEDETECT_DATA_DIR=/home/aedetect/data
EXPOSE 8000
CMD ["aedetect", "serve"]
