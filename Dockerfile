# Debian-based Python 3.11 image that installs the suite and the data, then runs the main job.
# docker build -t cnn-zoo . && docker run --rm -v "$PWD/mlruns:/app/mlruns" cnn-zoo
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dataset-fashion-mnist git libusb-1.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir -e ".[jax]" \
    && pip install --no-cache-dir --no-deps tflite-support==0.4.4   # TFLite Metadata for Android bundles (see scripts/install.sh)
COPY conf ./conf
COPY experiments ./experiments
RUN mkdir -p mlruns

ENV TF_CPP_MIN_LOG_LEVEL=2
ENTRYPOINT ["python", "-m", "src.run"]
CMD ["experiment=resnet20_fashion_mnist"]
