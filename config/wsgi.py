import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# With DEBUG off this is production: no development key, no per-process cache, no console mail.
from core.checks import refuse_to_start_unless_ready  # noqa: E402

refuse_to_start_unless_ready()
