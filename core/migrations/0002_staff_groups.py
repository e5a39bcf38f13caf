"""The predefined staff groups: marketer, support, analyst (docs/security.md).

Each gets the model permissions of its door in the admin. Permissions are created here first
(Django creates them only after all migrations), so the groups are complete on a fresh
database. Re-running adds what is missing and removes nothing an operator granted.
"""

from django.db import migrations

ALL = ("add", "change", "delete", "view")
VIEW = ("view",)

RULES = ("program", "outlet", "category", "productset", "tier", "redemptionpolicy", "earnrule")
CAMPAIGNS_EDIT = ("segment", "campaign", "campaignrule", "triggerconfig", "offer", "offerrule")
CAMPAIGNS_READ = ("segmentmembership", "rfmscore", "campaignmember", "referral", "offeractivation")
LEDGER = ("account", "check", "checkline", "operation", "lot", "entry", "refund", "ruleaward")

GROUPS = {
    # Builds programmes: rules, campaigns, segments, message templates; reads the results.
    "marketer": [
        *[("rules", model, ALL) for model in RULES],
        *[("campaigns", model, ALL) for model in CAMPAIGNS_EDIT],
        *[("campaigns", model, VIEW) for model in CAMPAIGNS_READ],
        ("notifications", "template", ALL),
    ],
    # Finds a customer, sees the full ledger, adjusts points with a reason (change_account).
    "support": [
        ("customers", "customer", ("view", "change")),
        ("ledger", "account", ("view", "change")),
        *[("ledger", model, VIEW) for model in LEDGER if model != "account"],
        ("notifications", "message", VIEW),
    ],
    # Reads the programme, campaigns and ledger; changes nothing and sees no contact details.
    "analyst": [
        *[("rules", model, VIEW) for model in RULES],
        *[("campaigns", model, VIEW) for model in CAMPAIGNS_EDIT + CAMPAIGNS_READ],
        *[("ledger", model, VIEW) for model in LEDGER],
        ("notifications", "template", VIEW),
    ],
}


def create_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, grants in GROUPS.items():
        group, _created = Group.objects.get_or_create(name=name)
        for app_label, model, actions in grants:
            codenames = [f"{action}_{model}" for action in actions]
            permissions = Permission.objects.filter(
                content_type__app_label=app_label, codename__in=codenames
            )
            missing = set(codenames) - set(permissions.values_list("codename", flat=True))
            if missing:
                raise RuntimeError(f"{name}: no permissions {sorted(missing)} in {app_label}")
            group.permissions.add(*permissions)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("customers", "0002_one_time_code"),
        ("rules", "0003_program_occurred_at_window"),
        ("ledger", "0002_lean_indexes"),
        ("campaigns", "0003_rfm_without_db_constraints"),
        ("notifications", "0003_signup_code_templates"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
