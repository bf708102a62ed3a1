"""Settings of the example shop: one SQLite file holds Django's tables and avgkit's stores.

Set ``DJANGO_SHOP_DB`` to put the database elsewhere (default: ``build/shop.db`` beside
``manage.py``), ``DJANGO_SHOP_SECRET_KEY`` and ``DJANGO_SHOP_DEBUG=0`` outside a laptop.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# A development key: anyone can read it here, so a deployment must set its own.
SECRET_KEY = os.environ.get("DJANGO_SHOP_SECRET_KEY", "django-shop-example-not-a-secret")
DEBUG = os.environ.get("DJANGO_SHOP_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

# No auth, sessions or admin: a visitor signs in with an order code and e-mail address and
# is remembered by a signed cookie, which keeps the example to the tables that matter.
INSTALLED_APPS = ["shop"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "shopsite.urls"
WSGI_APPLICATION = "shopsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,  # shop/templates; autoescaping is on, as always in Django
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_SHOP_DB", str(BASE_DIR / "build" / "shop.db")),
        "OPTIONS": {
            # Take the write lock when a transaction begins: a checkout never finds the
            # file taken over half-way (avgkit's own connection writes to it too).
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "Europe/Amsterdam"
LANGUAGE_CODE = "en"
USE_I18N = False

CSRF_COOKIE_HTTPONLY = True
SIGNED_COOKIE_AGE = 60 * 60 * 24 * 30  # the sign-in cookie: 30 days, then sign in again

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"  # retention warnings
DEFAULT_FROM_EMAIL = "kassa@theater.example"

SHOP = {
    # The privacy notice the opt-in wording belongs to (kept as evidence with each consent).
    "NOTICE_VERSION": "2025-01",
}
