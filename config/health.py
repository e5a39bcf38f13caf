"""``/health/``: is this node able to serve? Database, cache and Celery broker, probed live.

Built on django-health-check (its checks run concurrently, each with a timeout). 200 when every
check passes, **503** naming the failed ones otherwise, so a load balancer takes the node out of
rotation. JSON unless the client asks for HTML (a browser): ``{"Database(alias='default')":
"OK", "Broker()": "Unavailable: cannot reach the Celery broker", ...}``.

The broker check connects to ``CELERY_BROKER_URL`` (it does not need a worker to answer): a web
node can take a commit as long as it can queue the notifications it causes. Whether workers run
is a question for monitoring the queue, not for taking web nodes out.
"""

from __future__ import annotations

import dataclasses
import datetime

from health_check import Cache, Database, HealthCheck
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView


@dataclasses.dataclass
class Broker(HealthCheck):
    """Open (and close) a connection to the Celery broker the tasks are queued on."""

    timeout: datetime.timedelta = dataclasses.field(
        default=datetime.timedelta(seconds=3), repr=False
    )

    def run(self) -> None:
        from config.celery import app

        seconds = self.timeout.total_seconds()
        try:
            with app.connection_for_write(connect_timeout=seconds) as connection:
                connection.ensure_connection(
                    max_retries=1, interval_start=0, interval_step=0, timeout=seconds
                )
        except Exception as exc:  # every transport raises its own kind
            raise ServiceUnavailable("cannot reach the Celery broker") from exc


class HealthView(HealthCheckView):
    checks = (Database, Cache, Broker)

    async def get(self, request, *args, **kwargs):
        wants_html = "format" not in request.GET and "text/html" in request.headers.get(
            "accept", ""
        )
        if not wants_html and "format" not in request.GET:
            # Machines (load balancers, curl, monitoring) get JSON by default.
            request.GET = request.GET.copy()
            request.GET["format"] = "json"
        response = await super().get(request, *args, **kwargs)
        if response.status_code == 500:
            response.status_code = 503
        return response
