# The web chat (chatbot serve) in a container. Build and run:
#   docker build -t chatbot .
#   docker run -p 8000:8000 -v chatbot-data:/data \
#     -e OPENAI_API_KEY=... -e CHATBOT_WEB_TOKEN="$(openssl rand -hex 24)" chatbot
# Conversations live in /data: mount a volume there, or every restart loses them.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CHATBOT_DATA_DIR=/data \
    CHATBOT_CONFIG_DIR=/config \
    CHATBOT_LOCAL=0 \
    PORT=8000

WORKDIR /app
COPY pyproject.toml README.md ./
COPY chatbot ./chatbot
RUN pip install --no-cache-dir '.[web]' \
    && useradd --create-home --uid 10001 chatbot \
    && mkdir -p /data /config \
    && chown chatbot:chatbot /data /config

USER chatbot
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"

# Beyond loopback a credential is required: CHATBOT_WEB_TOKEN, or CHATBOT_WEB_USERS
# naming a users file (mount it, e.g. under /config). Without one it exits with a line saying so.
CMD ["chatbot", "serve", "--host", "0.0.0.0"]
