FROM python:3.11-slim
ARG EXTRAS=""
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml ./
COPY lima_site ./lima_site
COPY annotation ./annotation
COPY generation ./generation
COPY training ./training
COPY tokenization ./tokenization
# CPU torch for the web and CPU workers; the GPU image (EXTRAS=gpu) gets vLLM with its CUDA torch.
RUN if [ -z "$EXTRAS" ]; then pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu; fi \
 && pip install ".${EXTRAS:+[$EXTRAS]}"
COPY . .
EXPOSE 8000
CMD ["gunicorn", "lima_site.wsgi:application", "--bind", "0.0.0.0:8000"]
