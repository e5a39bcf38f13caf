"""Kopilka settings: everything comes from the environment, with safe development defaults.

The embedded default (no variables set) is SQLite in WAL mode with IMMEDIATE transactions and
a Celery broker on the local filesystem under ``var/``, so ``make run`` needs no server.
Production sets ``DATABASE_URL`` (PostgreSQL) and ``CELERY_BROKER_URL`` (Redis or AMQP).
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.utils.translation import gettext_lazy as _

from config.admin_theme import UNFOLD  # noqa: F401  (the admin theme's settings)
from config.site_url import public_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("KOPILKA_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# With DEBUG off the development key is refused at startup (core/checks.py, kopilka.E001).
KOPILKA_SECRET_KEY_FROM_ENV = bool(env.str("SECRET_KEY", default=""))
SECRET_KEY = env.str("SECRET_KEY", default="") or "dev-insecure-kopilka-key-change-me"
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # The admin theme: before django.contrib.admin, so its templates and its AdminSite win.
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.inlines",
    "unfold.contrib.simple_history",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from our static files
    "django_filters",
    "simple_history",
    "django_celery_beat",
    "health_check",
    "axes",
    "csp",
    "core",
    "customers",
    "loyalty.rules",
    "loyalty.ledger",
    "loyalty.api",
    "campaigns",
    "notifications",
    "reports",
    "cabinet",
    "backoffice",
    # Last: restyles the third-party admins (auth, Celery beat) after autodiscover.
    "config.apps.SiteConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from the app server, before sessions and locale are worked out.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.csp.SiteCSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a lockout into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# --- Database ---------------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'kopilka.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so two writers serialise instead of failing
    # with "database is locked" half-way; WAL lets readers run beside the single writer.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Covering indexes (non-key columns) are a PostgreSQL read path of the reports; SQLite
    # builds the same indexes on their key columns, which is all it needs.
    SILENCED_SYSTEM_CHECKS = ["models.W039", "models.W040"]
else:
    # Persistent connections: each web or Celery worker process keeps one connection for up to
    # CONN_MAX_AGE seconds (0: a new one per request, None: forever) instead of paying the
    # connect and authentication round trips on every request; the health check pings a
    # reused connection first, so a restarted database costs one retried request, not errors.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Bodies larger than this are refused (the POS API answers 413 payload_too_large).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

# Local memory only for development and tests: with DEBUG off a shared cache is required
# (kopilka.E002), since rate limits, throttles and lockouts must count across processes.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://kopilka")}

# --- Auth -------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes guards the admin's sign-in: after AXES_FAILURE_LIMIT wrong passwords for one
# username from one address, that pair is locked out for AXES_COOLOFF_MINUTES (counted in the
# database, so every web node sees the same attempts). The cabinet has its own limits.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_ONLY_ADMIN_SITE = True
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_SENSITIVE_PARAMETERS = ["password"]
LOGIN_URL = "cabinet:login"
LOGIN_REDIRECT_URL = "cabinet:dashboard"
LOGOUT_REDIRECT_URL = "cabinet:login"
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=14 * 24 * 3600)
SESSION_COOKIE_SAMESITE = "Lax"
# The cabinet's template filters (locale-aware points, money, rule explanations).
TEMPLATES[0]["OPTIONS"]["libraries"] = {"cabinet": "cabinet.formatting"}

# --- I18n -------------------------------------------------------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="ru")
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Moscow")
USE_I18N = True
USE_TZ = True

# --- Static -----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing one
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []
# Production (DEBUG off) serves STATIC_ROOT through whitenoise with hashed, compressed names
# (``collectstatic`` writes them and the manifest; bin/serve runs it), so the files can be
# cached forever. With DEBUG on, or STATIC_MANIFEST=0 (the test suite, a runserver without a
# collectstatic), names stay plain and whitenoise finds the files in the apps as runserver does.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST

# --- Security (production toggles; `check --deploy` is clean with the production env) ----------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG and SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SESSION_COOKIE_SECURE)
SESSION_COOKIE_HTTPONLY = True
# No page script reads the CSRF cookie (forms carry the token), so scripts may not either.
CSRF_COOKIE_HTTPONLY = env.bool("CSRF_COOKIE_HTTPONLY", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Load balancers probe /health/ over plain HTTP on the node itself.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = env.str("SECURE_REFERRER_POLICY", default="same-origin")
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# The proxy in front of gunicorn says the original scheme in this header; it must overwrite a
# client's own. Set SECURE_PROXY_SSL_HEADER to an empty value when nothing sits in front.
_proxy_header = env.str("SECURE_PROXY_SSL_HEADER", default="HTTP_X_FORWARDED_PROTO")
SECURE_PROXY_SSL_HEADER = (_proxy_header, "https") if _proxy_header else None
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp 4 format) on every page: scripts from our origin or
# carrying the request's nonce, no plugins, no framing. Inline style attributes stay allowed
# (the admin's widgets and the cabinet's progress bars use them). /api/docs/ (Swagger UI from
# its CDN) is exempt in config/urls.py.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
if env.str("CSP_REPORT_URI", default=""):
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] = [env.str("CSP_REPORT_URI")]

# --- Email ------------------------------------------------------------------------------------
# The console backend prints password-reset links: development only. With DEBUG off and no
# EMAIL_BACKEND set, EMAIL_HOST selects SMTP; neither set is refused at startup (kopilka.E003).
KOPILKA_EMAIL_BACKEND_FROM_ENV = bool(env.str("EMAIL_BACKEND", default=""))
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if env.str("EMAIL_HOST", default="")
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Kopilka <noreply@kopilka.local>")

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Fanout exchange tables; kombu's default is ./control, in whatever the cwd is.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- REST framework ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["loyalty.api.parsers.BoundedJSONParser"],
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Kopilka POS API",
    "DESCRIPTION": (
        "Loyalty points at the till: identify, calculate, commit, refund, cancel.\n\n"
        "New here? Read the [integration walkthrough](/api/guide/): enrol a customer, "
        "calculate a check, commit it and refund it, with curl examples. "
        "Also as [Redoc](/api/redoc/) and as the [OpenAPI schema](/api/schema/?format=json)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # What the schema says beyond DRF's fields (strict objects, bounds): loyalty/api/schema.py.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "loyalty.api.schema.postprocess",
    ],
    # Swagger UI and Redoc from drf-spectacular-sidecar's static files: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "REDOC_UI_SETTINGS": {
        "theme": {
            "typography": {
                "fontFamily": 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
                "headings": {"fontFamily": 'system-ui, -apple-system, "Segoe UI", sans-serif'},
            }
        }
    },
}
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="600/min")
# The POS API answers every error with the envelope of docs/api.md (loyalty/api/exceptions.py).
REST_FRAMEWORK["EXCEPTION_HANDLER"] = "loyalty.api.exceptions.exception_handler"

# --- Kopilka ----------------------------------------------------------------------------------
KOPILKA_DEFAULT_REGION = env.str("KOPILKA_DEFAULT_REGION", default="RU")
# Sign-up SMS a programme sends in an hour, whatever the addresses asking (the per-phone and
# per-IP limits are in cabinet/ratelimit.py).
CABINET_SIGNUP_SMS_PER_PROGRAM = env.int("CABINET_SIGNUP_SMS_PER_PROGRAM", default=300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Jobs and notifications (issue 5) ----------------------------------------------------------
# Absolute links in messages (unsubscribe, cabinet) are built on this public base. By default
# it is where `make run` serves (HOST and PORT, which the Makefile passes to bin/run-all).
SITE_URL = env.str("SITE_URL", default=public_url(env.str("HOST", ""), env.int("PORT", 8000)))
SITE_URL = SITE_URL.rstrip("/")
# mail_admins() recipients for job alerts (ledger reconcile): "Name <a@b>" or plain addresses.
ADMINS = [
    (address.split("<")[0].strip() or address, address.split("<")[-1].rstrip(">").strip())
    for address in env.list("ADMINS", default=[])
]
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# A job row still "running" after this long belongs to a dead worker and may be taken over.
JOBS_STALE_AFTER_SECONDS = env.int("JOBS_STALE_AFTER_SECONDS", default=CELERY_TASK_TIME_LIMIT + 300)
# Parallel connections of the point expiry on PostgreSQL (chunks of disjoint accounts).
LEDGER_EXPIRY_WORKERS = env.int("LEDGER_EXPIRY_WORKERS", default=2)
# Report aggregates: the nightly refresh re-counts this many closed days besides the touched
# ones; a rebuild reads the ledger this many days at a time (docs/reports.md).
REPORTS_REFRESH_DAYS = env.int("REPORTS_REFRESH_DAYS", default=3)
REPORTS_CHUNK_DAYS = env.int("REPORTS_CHUNK_DAYS", default=7)

SMS_BACKEND = env.str("SMS_BACKEND", default="notifications.backends.sms.LogSmsProvider")
SMS_GATEWAY_URL = env.str("SMS_GATEWAY_URL", default="")
SMS_GATEWAY_TOKEN = env.str("SMS_GATEWAY_TOKEN", default="")
SMS_GATEWAY_TIMEOUT = env.float("SMS_GATEWAY_TIMEOUT", default=10.0)
SMS_SENDER = env.str("SMS_SENDER", default="Kopilka")
# SMS are held back during these local hours (the programme's time zone); empty: never.
NOTIFICATIONS_QUIET_HOURS = env.str("NOTIFICATIONS_QUIET_HOURS", default="21:00-09:00")
# At most COUNT marketing messages per customer and channel in DAYS days.
NOTIFICATIONS_MARKETING_CAP_COUNT = env.int("NOTIFICATIONS_MARKETING_CAP_COUNT", default=3)
NOTIFICATIONS_MARKETING_CAP_DAYS = env.int("NOTIFICATIONS_MARKETING_CAP_DAYS", default=7)
# Transactional messages (points earned, tier, reminders) need channel consent too when True.
NOTIFICATIONS_TRANSACTIONAL_NEEDS_CONSENT = env.bool(
    "NOTIFICATIONS_TRANSACTIONAL_NEEDS_CONSENT", default=False
)
# Remind about points expiring this many days ahead (one message per customer and day).
NOTIFICATIONS_EXPIRY_REMINDER_DAYS = [
    int(d) for d in env.list("NOTIFICATIONS_EXPIRY_REMINDER_DAYS", default=["7", "1"])
]
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=5)
# A claimed message whose worker died is retried after this lease runs out.
NOTIFICATIONS_LEASE_SECONDS = env.int("NOTIFICATIONS_LEASE_SECONDS", default=300)
NOTIFICATIONS_DISPATCH_BATCH = env.int("NOTIFICATIONS_DISPATCH_BATCH", default=50)

# --- Retention (core/retention.py, nightly) ---------------------------------------------------
# Idempotency keys of POS writes: a retry after this long acts again.
RETENTION_IDEMPOTENCY_DAYS = env.int("RETENTION_IDEMPOTENCY_DAYS", default=30)
# Delivered, failed and skipped outbox messages.
RETENTION_OUTBOX_DAYS = env.int("RETENTION_OUTBOX_DAYS", default=90)
# Expired or used one-time codes, and delivered messages that carried one.
RETENTION_CODES_HOURS = env.int("RETENTION_CODES_HOURS", default=24)
