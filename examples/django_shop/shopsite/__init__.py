"""The Django project of the avgkit example shop: settings, URLs, the WSGI application."""
