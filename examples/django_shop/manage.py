#!/usr/bin/env python
"""Django's command line for the example shop (``migrate``, ``runserver``, ``avgkit_cleanup``)."""

import os
import sys
from pathlib import Path

import django
from django.conf import settings
from django.core.management import execute_from_command_line


def main() -> None:
    """Run a management command (making the database's folder first, if need be)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings")
    django.setup()
    Path(str(settings.DATABASES["default"]["NAME"])).parent.mkdir(parents=True, exist_ok=True)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
