"""lima-studio settings: one module, configured only from environment variables.

The defaults are the embedded setup `make run` uses (SQLite, a Celery broker that needs no
server, the tiny local model). Production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY,
ALLOWED_HOSTS and DJANGO_DEBUG=false; `manage.py check --deploy` is clean for those.
"""

from pathlib import Path

import environ
from csp import constants as csp_constants
from lima_site import queues as lima_queues


class RecordingEnv(environ.Env):
    """environ.Env that remembers every variable the settings read: a model's API key may never name one."""

    names_read: set[str] = set()

    def get_value(self, var, *args, **kwargs):
        RecordingEnv.names_read.add(var)
        return super().get_value(var, *args, **kwargs)


BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(RecordingEnv().str("LIMA_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = RecordingEnv(
    DJANGO_DEBUG=(bool, True),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    LIMA_BLIND_TEST_AUTHORS=(bool, True),
    LIMA_SECURE_SSL_REDIRECT=(bool, True),
    LIMA_ALLOW_PRIVATE_ENDPOINTS=(bool, False),
)

DEBUG = env("DJANGO_DEBUG")
SECRET_KEY = env.str(
    "SECRET_KEY",
    default="django-insecure-embedded-development-key-only" if DEBUG else environ.Env.NOTSET,
)
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "annotation",
    "annotation.datasets",
    "generation",
    "annotation.evaluation",
    "training",
    "lima_site.orchestration",
    "lima_site",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # A database outage answers 503 + Retry-After, not a generic 500 (process_exception).
    "lima_site.database_unavailable.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it answers locked-out logins.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "lima_site.urls"
WSGI_APPLICATION = "lima_site.wsgi.application"
ASGI_APPLICATION = "lima_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "lima_site.roles.navigation",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'lima.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections (workers run many short tasks), checked before reuse so a restarted
# PostgreSQL costs one reconnect instead of an error.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default runs the web server and a worker side by side on one file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    # Django's SQLite backend, with the process's write transactions queued on a lock (lima_site/sqlite_backend).
    DATABASES["default"]["ENGINE"] = "lima_site.sqlite_backend"
    # A test database on SQLite is a file as well (Django's default is a shared-cache memory database, whose
    # table locks fail concurrent writers at once instead of queueing them as the file does).
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-lima.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses logins for a username + address that failed too often.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, whose get_user (every request) reads the user and their roles in one written-out
    # statement (lima_site/sessions.py).
    "lima_site.sessions.ModelBackend",
]
# Login rate limiting: 5 failures for one username from one address lock it for 15 minutes.
AXES_FAILURE_LIMIT = env.int("LIMA_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LIMA_LOGIN_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_HTTP_RESPONSE_CODE = 429
AXES_IPWARE_PROXY_COUNT = env.int("LIMA_PROXY_COUNT", default=0)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG  # development serves straight from static/; production from collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Request bodies other than files (forms, JSON API calls) are refused above this size.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)
# Uploaded files are held in memory up to this size and streamed to a temporary file beyond it; the parsers
# then read them line by line (annotation/input_limits.py), never whole.
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    # Stops writing a file at LIMA_MAX_UPLOAD_BYTES; the form then refuses it with its size.
    "lima_site.uploads.CappedTemporaryFileUploadHandler",
]

# Security: strict by default outside DEBUG; `check --deploy` must stay clean.
SESSION_COOKIE_HTTPONLY = True
# Django's database sessions, the row read by a written-out SELECT (lima_site/sessions.py).
SESSION_ENGINE = "lima_site.sessions"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts, styles, images, fonts and requests from this site
# only, nothing inline (pages keep their JavaScript and CSS in static/), no plugins, no framing. A
# remote image in a model's response therefore cannot tell its author who read it (the Markdown
# sanitiser, annotation/rendering.py, already turns such images into text).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF],
        "style-src": [csp_constants.SELF],
        "img-src": [csp_constants.SELF],
        "font-src": [csp_constants.SELF],
        "connect-src": [csp_constants.SELF],
        "object-src": [csp_constants.NONE],
        "base-uri": [csp_constants.NONE],
        "form-action": [csp_constants.SELF],
        "frame-ancestors": [csp_constants.NONE],
    },
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env("LIMA_SECURE_SSL_REDIRECT")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    # The services' ValidationError and PermissionDenied answer 400 and 403 (lima_site/api.py).
    "EXCEPTION_HANDLER": "lima_site.api.exception_handler",
    # JSON bodies: deep nesting, huge numbers, lone surrogates and NULs answer 400, not 500 (lima_site/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "lima_site.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "lima-studio API",
    "DESCRIPTION": "Examples, datasets, generation, judging and training for LIMA-style models.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI's files come from drf-spectacular-sidecar (static files of this site), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": False, "displayOperationId": False},
}

# Celery. The embedded default uses kombu's SQLAlchemy transport on a SQLite file: no server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# One queue per kind of work (lima_site/queues.py): generation and LLM-judge chunks are sent to their model's
# queue explicitly (`gpu` for vLLM); other tasks are routed here; the rest go to the default `celery` queue.
CELERY_TASK_DEFAULT_QUEUE = lima_queues.DEFAULT
CELERY_TASK_ROUTES = lima_queues.TASK_ROUTES
CELERY_BROKER_TRANSPORT_OPTIONS = (
    # Redis: an unacknowledged task (its worker was killed) goes back to the queue after this many
    # seconds. (The SQLAlchemy transport passes its options to create_engine, so none there.)
    {"visibility_timeout": env.int("LIMA_BROKER_VISIBILITY_TIMEOUT", default=3600)}
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
    else {}
)
CELERY_BEAT_SCHEDULE = {
    "resume-stalled-generation-runs": {"task": "generation.tasks.resume_stalled_runs",
                                       "schedule": env.float("LIMA_GENERATION_STALL_CHECK_SECONDS", default=60.0)},
    "fail-stale-import-jobs": {"task": "annotation.tasks.fail_stale_import_jobs", "schedule": 300.0},
    "poll-training-runs": {"task": "training.tasks.poll_active_runs", "schedule": env.float("LIMA_TRAINING_POLL_SECONDS", default=15.0)},
    "advance-running-experiments": {"task": "lima_site.orchestration.tasks.advance_running_experiments", "schedule": 60.0},
}

# LIMA-specific configuration.
# A test-split author (LIMA's group B) never sees another group's training responses.
LIMA_BLIND_TEST_AUTHORS = env("LIMA_BLIND_TEST_AUTHORS")
# The project tokenizer / model: a real checkpoint directory, or the tiny model built locally.
LIMA_MODEL_DIR = Path(env.str("LIMA_MODEL_DIR", default=str(VAR_DIR / "models" / "tiny-llama")))
# Community data dumps (Stack Exchange, wikiHow, Pushshift, Super-NaturalInstructions) the curation UI may read.
LIMA_DUMPS_DIR = Path(env.str("LIMA_DUMPS_DIR", default=str(VAR_DIR / "dumps")))
# Untrusted input (uploads and dumps): the largest file an upload may be, the longest line any parser reads,
# how far a .zst dump may expand relative to its size, and how many XML elements one dump file may hold
# (Stack Overflow's Posts.xml has about 60 million rows). Each is reported with its line when exceeded.
LIMA_MAX_UPLOAD_BYTES = env.int("LIMA_MAX_UPLOAD_BYTES", default=256 * 1024 * 1024)
# A community dump uploaded from the browser (Imports page): streamed to disk under LIMA_DUMPS_DIR/uploads/.
LIMA_MAX_DUMP_UPLOAD_BYTES = env.int("LIMA_MAX_DUMP_UPLOAD_BYTES", default=4 * 1024 * 1024 * 1024)
LIMA_MAX_LINE_BYTES = env.int("LIMA_MAX_LINE_BYTES", default=16 * 1024 * 1024)
# The judgments export on PostgreSQL runs this many COPY statements at once, each on its own connection, all
# reading one snapshot (as pg_dump -j does); the server's formatting is what limits an export (bench_exports).
LIMA_EXPORT_CONNECTIONS = env.int("LIMA_EXPORT_CONNECTIONS", default=2)
LIMA_MAX_DECOMPRESSION_RATIO = env.int("LIMA_MAX_DECOMPRESSION_RATIO", default=1000)
LIMA_MAX_XML_ELEMENTS = env.int("LIMA_MAX_XML_ELEMENTS", default=200_000_000)
# An import job whose progress has not moved for this long (its worker died or hangs) is marked failed.
LIMA_IMPORT_STALE_SECONDS = env.int("LIMA_IMPORT_STALE_SECONDS", default=30 * 60)
# The jobs page (/jobs/) calls a running generation, judge, import or training run stuck after this many minutes
# without progress (a new response or verdict, an import heartbeat, a Slurm poll).
LIMA_JOB_STUCK_MINUTES = env.int("LIMA_JOB_STUCK_MINUTES", default=10)
# Beat looks for stalled generation chunks (lease ran out, or never claimed) every LIMA_GENERATION_STALL_CHECK_SECONDS.
# vLLM workers shard a model across this many GPUs of their host.
LIMA_VLLM_TENSOR_PARALLEL_SIZE = env.int("LIMA_VLLM_TENSOR_PARALLEL_SIZE", default=1)
# GPU workers consume the `gpu` queue (docker-compose's gpu-worker): only then may checkpoints generate with vLLM.
LIMA_GPU_WORKERS = env.bool("LIMA_GPU_WORKERS", default=False)
# Models one worker process keeps loaded between chunks, least recently used dropped first: a GPU host fits one
# 65B checkpoint, so a worker generating for epoch after epoch must not keep them all.
LIMA_WORKER_LOADED_MODELS = env.int("LIMA_WORKER_LOADED_MODELS", default=1)
# A generation chunk is held by the one worker that claimed it, under a lease it renews while it generates
# (every third of it). A chunk whose lease ran out (its worker died) is sent again by beat's stalled-run check;
# one that no worker claimed for LIMA_GENERATION_REQUEUE_SECONDS (its message was lost) too. A duplicate
# message finds the chunk held or done and generates nothing.
LIMA_GENERATION_LEASE_SECONDS = env.int("LIMA_GENERATION_LEASE_SECONDS", default=300)
LIMA_GENERATION_REQUEUE_SECONDS = env.int("LIMA_GENERATION_REQUEUE_SECONDS", default=3600)

# How often an ablation experiment's driver task looks at its variants again (lima_site/orchestration/tasks.py).
LIMA_EXPERIMENT_POLL_SECONDS = env.float("LIMA_EXPERIMENT_POLL_SECONDS", default=5.0)
# Fine-tuning: run directories (on a filesystem the Slurm nodes share), the Slurm client
# commands and configuration, and the interpreter and checkout the batch script runs.
LIMA_TRAINING_DIR = Path(env.str("LIMA_TRAINING_DIR", default=str(VAR_DIR / "training")))
LIMA_SLURM_BIN_DIR = env.str("LIMA_SLURM_BIN_DIR", default="")
LIMA_SLURM_CONF = env.str("LIMA_SLURM_CONF", default="")
LIMA_SLURM_TIMEOUT = env.float("LIMA_SLURM_TIMEOUT", default=30.0)
LIMA_SLURM_PYTHON = env.str("LIMA_SLURM_PYTHON", default="")
LIMA_SLURM_WORKDIR = env.str("LIMA_SLURM_WORKDIR", default=str(BASE_DIR))
# The launcher a new run gets: slurm, local, or empty for "the one that works here" (Slurm when its controller
# answers `scontrol ping`, else a local process: `make run` on a laptop trains locally).
LIMA_TRAINING_LAUNCHER = env.str("LIMA_TRAINING_LAUNCHER", default="")
# Memory of one GPU on the training cluster, for the memory plan that refuses jobs that cannot fit.
LIMA_GPU_MEMORY_GIB = env.float("LIMA_GPU_MEMORY_GIB", default=80.0)

# The model registry: a transformers or vLLM model's directory must lie under one of these roots, or under
# LIMA_MODEL_DIR or LIMA_TRAINING_DIR (the project tokenizer's model and the training runs' checkpoints).
LIMA_MODEL_ROOTS = [Path(root) for root in env.list("LIMA_MODEL_ROOTS", default=[str(VAR_DIR / "models")])]
# An OpenAI-compatible model names the environment variable holding its key; only names matching one of
# these patterns (fnmatch, case-sensitive), and never a variable these settings read, may be named.
LIMA_API_KEY_ENV_ALLOWED = env.list("LIMA_API_KEY_ENV_ALLOWED", default=["LIMA_*_API_KEY"])
# Endpoints on loopback, private or shared addresses (a vLLM server on the cluster's network) are refused
# unless this is set; link-local addresses (cloud metadata services) are refused whatever it says.
LIMA_ALLOW_PRIVATE_ENDPOINTS = env("LIMA_ALLOW_PRIVATE_ENDPOINTS")
# Where the per-model request rate is counted, shared by every worker process: Redis when the broker is
# Redis, else memory (one count per process, which is the embedded default's single worker).
LIMA_RATE_LIMIT_STORAGE = env.str(
    "LIMA_RATE_LIMIT_STORAGE",
    default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "memory://",
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# Read last: every variable named above (and those of the scheme, read or not in this configuration).
LIMA_SETTINGS_ENV_NAMES = frozenset(RecordingEnv.names_read | set(env.scheme))

# export_all writes timestamps to the microsecond (Django's json format rounds them to the millisecond).
SERIALIZATION_MODULES = {"exact-json": "lima_site.exact_json"}
