"""``manage.py seed_shop`` and ``manage.py avgkit_cleanup``."""
