FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway gateway
COPY subgraphs subgraphs
COPY resolvers resolvers
COPY loaders loaders
COPY media media
COPY infra infra
COPY migrations migrations
COPY policies policies
COPY schema.graphql schema.graphql
RUN pip install --no-cache-dir -e .
ENV REVENGE_SERVER_HOST=0.0.0.0 \
    REVENGE_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
CMD ["revenge", "serve"]
