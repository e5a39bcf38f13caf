"""The pages around the apps: landing, API docs offline, Redoc, the readable schema, the guide."""

import json
import re

import pytest
from rest_framework.test import APIClient

from config.views import DEMO_PHONE, guide_steps
from tests.api.conftest import api_key, outlet, program  # noqa: F401  (shared fixtures)
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)


def assets(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)


@pytest.mark.russian
def test_landing_page_has_three_doors_in_russian(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("Маркетологу", "Клиентам", "Разработчикам", "Пошаговое подключение"):
        assert text in html
    for href in ('href="/admin/"', 'href="/cabinet/"', 'href="/api/docs/"', 'href="/api/guide/"'):
        assert href in html
    assert not EXTERNAL.search(html)


def test_landing_page_in_english(client, settings):
    html = client.get("/").content.decode()
    for text in ("For the marketer", "For customers", "For integrators", "Open the admin"):
        assert text in html
    assert not EXTERNAL.search(html)


def test_landing_page_tells_how_to_enter_the_demo_cabinet_only_in_debug(client, settings):
    CustomerFactory(phone=DEMO_PHONE)
    settings.DEBUG = False
    assert DEMO_PHONE not in client.get("/").content.decode()
    settings.DEBUG = True
    html = client.get("/").content.decode()
    assert DEMO_PHONE in html
    assert 'href="/cabinet/signup/"' in html
    assert 'href="/admin/notifications/message/"' in html


def test_swagger_ui_loads_only_local_assets(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert not EXTERNAL.search(html)
    local = [a for a in assets(html) if a.startswith("/static/")]
    assert any("swagger-ui" in a for a in local)
    assert all(a.startswith(("/static/", "/api/")) for a in assets(html)), assets(html)


def test_redoc_loads_only_local_assets(client):
    response = client.get("/api/redoc/")
    assert response.status_code == 200
    html = response.content.decode()
    assert not EXTERNAL.search(html)
    assert "/static/drf_spectacular_sidecar/redoc/" in html


def test_schema_description_links_the_guide(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "(/api/guide/)" in schema["info"]["description"]


def test_schema_is_readable_in_a_browser(client):
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = client.get("/api/schema/", HTTP_ACCEPT=browser)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "attachment" not in response.get("Content-Disposition", "")
    assert response.content.decode().startswith("openapi:")
    response = client.get("/api/schema/?format=json", HTTP_ACCEPT=browser)
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content)["openapi"].startswith("3.")


def test_schema_answers_tools_with_openapi_media_types(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert client.get("/api/schema/")["Content-Type"].startswith("application/vnd.oai.openapi")


@pytest.mark.russian
def test_guide_in_russian_shows_curl_on_the_site_url(client, settings):
    settings.SITE_URL = "https://loyalty.example.ru"
    response = client.get("/api/guide/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Пошаговое подключение" in html or "пошаговое подключение" in html
    assert "curl -X POST https://loyalty.example.ru/api/v1/checks/calculate" in html
    assert "Idempotency-Key: msk-1-R-000123" in html
    assert not EXTERNAL.search(html)


def test_guide_in_english(client):
    html = client.get("/api/guide/").content.decode()
    assert "POS API: integration walkthrough" in html
    assert "Errors and retries" in html


def test_the_guides_requests_work_against_the_api(api_key):  # noqa: F811
    """Enrol, calculate, commit and refund with exactly the bodies the guide shows."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    steps = {step["key"]: step for step in guide_steps()}
    check_id = None
    for key in ("enrol", "calculate", "commit", "refund"):
        step = steps[key]
        path = "/api/v1/" + step["path"].replace("CHECK_ID", str(check_id))
        headers = {}
        if step["idempotency_key"]:
            headers["HTTP_IDEMPOTENCY_KEY"] = step["idempotency_key"]
        response = api.post(path, step["body"], format="json", **headers)
        assert response.status_code in (200, 201), (key, response.json())
        if key == "commit":
            check_id = response.json()["id"]
            assert response.json()["earned_points"] != "0"
