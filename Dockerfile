# Salesbot: one image for the webhook workers, the scheduler and one-off commands
# (`salesbot migrate`, `salesbot seed-demo`). Not built on the machine it was written on
# (no Docker engine there): see README, "Deployment".

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Every dependency ships a manylinux wheel (asyncpg, matplotlib, rapidfuzz…): no compiler.
RUN python -m venv /opt/salesbot
# .dockerignore lets in only pyproject.toml, README.md and the packages (bot, crm, storage,
# scheduler, web).
COPY . .
RUN /opt/salesbot/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/salesbot/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    WEB_HOST=0.0.0.0 \
    WEB_PORT=8080
COPY --from=build /opt/salesbot /opt/salesbot
RUN useradd --system --uid 10001 --user-group --home-dir /data --create-home salesbot
USER salesbot
# The working directory holds salesbot.db when DATABASE_URL is left at its SQLite default.
WORKDIR /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["salesbot"]
CMD ["run", "--webhook", "--no-scheduler"]
