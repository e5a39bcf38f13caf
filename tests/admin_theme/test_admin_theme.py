"""The admin in the theme: the marketer's sidebar, the third-party admins, Russian phrasing."""

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import translation
from django_celery_beat.models import SolarSchedule
from rest_framework_api_key.models import APIKey
from unfold.admin import ModelAdmin as UnfoldModelAdmin

from config.admin_theme import NAVIGATION

pytestmark = pytest.mark.django_db

GROUPS_RU = [
    "Программа и правила",
    "Клиенты",
    "Акции и сегменты",
    "Сообщения",
    "Отчёты",
    "Настройки",
]
GROUPS_EN = [
    "Programme and rules",
    "Customers",
    "Campaigns and segments",
    "Messages",
    "Reports",
    "Settings",
]
# What must not leak to a marketer: Django's and Celery's internals, English in Russian.
NEVER = [
    "Crontab",
    "Администрирование Django",
    "Django administration",
    "Django site admin",
    "Астрономические события",
    "Solar events",
    "Периодические Задачи",
    "Администрирование сайта",
]


def _text(response) -> str:
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.russian
def test_admin_index_in_russian_has_the_marketers_groups(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    text = _text(response)
    for group in GROUPS_RU:
        assert group in text
    for word in ("Программы", "Задачи по расписанию", "Ключи API для касс", "Сотрудники"):
        assert word in text
    for leak in NEVER:
        assert leak not in text, leak
    assert re.search(r"<title>\s*Главная \| Копилка</title>", response.content.decode())


def test_admin_index_in_english_has_the_marketers_groups(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    text = _text(response)
    for group in GROUPS_EN:
        assert group in text
    for leak in NEVER:
        assert leak not in text, leak


def test_every_sidebar_link_opens(admin_client):
    links = [item["link"] for group in NAVIGATION for item in group["items"]]
    assert len(links) > 30
    for link in links:
        url = link(None) if callable(link) else str(link)
        assert admin_client.get(url).status_code == 200, url


THIRD_PARTY = [
    "auth_user",
    "auth_group",
    "django_celery_beat_periodictask",
    "django_celery_beat_crontabschedule",
    "django_celery_beat_intervalschedule",
    "django_celery_beat_clockedschedule",
    "pos_api_outletapikey",
]


@pytest.mark.parametrize("name", THIRD_PARTY)
def test_third_party_admins_render_in_the_theme(admin_client, name):
    for view in ("changelist", "add"):
        response = admin_client.get(reverse(f"admin:{name}_{view}"))
        assert response.status_code == 200, (name, view)


def test_third_party_admins_use_the_themes_model_admin():
    labels = {m._meta.label_lower: a for m, a in admin.site._registry.items()}
    for label in (
        "auth.user",
        "auth.group",
        "django_celery_beat.periodictask",
        "django_celery_beat.crontabschedule",
        "django_celery_beat.intervalschedule",
        "django_celery_beat.clockedschedule",
    ):
        assert isinstance(labels[label], UnfoldModelAdmin), label


def test_astronomical_schedules_and_generic_api_keys_are_not_in_the_admin():
    assert not admin.site.is_registered(SolarSchedule)
    assert not admin.site.is_registered(APIKey)


def test_a_staff_member_sees_only_the_lists_they_may_view(client):
    user = User.objects.create_user("support", password="pw-support-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(user)
    text = _text(client.get("/admin/"))
    assert "Customers" in text
    assert "Programmes" not in text
    assert "Staff users" not in text


@pytest.mark.parametrize(
    ("msgid", "russian"),
    [
        ("Select %s to change", "Выбор для изменения: %s"),
        ("Add %s", "Добавить: %s"),
        ("Add %(name)s", "Добавить: %(name)s"),
        ("Add another %(verbose_name)s", "Добавить ещё: %(verbose_name)s"),
        ("The {name} “{obj}” was added successfully.", "Сохранено: {name} «{obj}»."),
        ("The {name} “{obj}” was changed successfully.", "Изменения сохранены: {name} «{obj}»."),
        ("The %(name)s “%(obj)s” was deleted successfully.", "Удалено: %(name)s «%(obj)s»."),
        ("Search apps and models...", "Поиск по разделам…"),
    ],
)
def test_admin_phrases_fit_any_noun_in_russian(msgid, russian):
    with translation.override("ru"):
        assert translation.gettext(msgid) == russian


@pytest.mark.russian
def test_a_programme_added_in_the_admin_is_reported_in_neutral_russian(admin_client):
    response = admin_client.get(reverse("admin:rules_program_add"))
    assert response.status_code == 200
    assert "Добавить: программа" in response.content.decode()
    assert "Добавить программа" not in response.content.decode()


@pytest.mark.russian
def test_changelist_counts_do_not_decline_the_noun_wrongly(admin_client):
    from tests.factories import CustomerFactory

    for n in range(5):
        CustomerFactory(phone=f"+7916555000{n}")
    text = _text(admin_client.get(reverse("admin:customers_customer_changelist")))
    assert "Клиенты: 5" in text
    assert "5 клиенты" not in text


def test_the_admin_login_returns_to_the_admin_not_to_the_cabinet(client):
    """LOGIN_REDIRECT_URL is the customers' cabinet; the admin's form must carry "next"."""
    User.objects.create_superuser("boss", "b@example.com", "pw-boss-12345")
    html = client.get("/admin/login/").content.decode()
    assert 'name="next" value="/admin/"' in html
    response = client.post(
        "/admin/login/", {"username": "boss", "password": "pw-boss-12345", "next": "/admin/"}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
