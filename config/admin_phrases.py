"""Phrases of Django's admin and of the admin theme, reworded in our own catalogue.

Django's Russian admin puts a model's verbose name (nominative: «программа») into sentences
that want another case or gender: «Выберите программа», «Добавить программа», «Программа …
был успешно добавлен». Our catalogue (``LOCALE_PATHS``) is read before Django's, so the same
message ids are translated here with neutral forms that fit any noun: «Выбор: программа»,
«Добавить: программа», «Сохранено: программа «…»». django-unfold ships no Russian at all;
its visible strings are translated here too.

Nothing imports this module: it exists so that ``makemessages`` keeps these message ids in
locale/ru/LC_MESSAGES/django.po (they are in no other source file of ours).
"""

from django.utils.translation import gettext_noop, ngettext_lazy

DJANGO_ADMIN = (
    gettext_noop("Site administration"),
    gettext_noop("Select %s"),
    gettext_noop("Select %s to change"),
    gettext_noop("Select %s to view"),
    gettext_noop("Add %s"),
    gettext_noop("Add %(name)s"),
    gettext_noop("Change %s"),
    gettext_noop("View %s"),
    gettext_noop("Add another %(verbose_name)s"),
    gettext_noop("Delete selected %(verbose_name_plural)s"),
    gettext_noop("Successfully deleted %(count)d %(items)s."),
    gettext_noop("Cannot delete %(name)s"),
    gettext_noop("The {name} “{obj}” was added successfully."),
    gettext_noop("The {name} “{obj}” was added successfully. You may add another {name} below."),
    gettext_noop("The {name} “{obj}” was changed successfully."),
    gettext_noop("The {name} “{obj}” was changed successfully. You may edit it again below."),
    gettext_noop("The {name} “{obj}” was changed successfully. You may add another {name} below."),
    gettext_noop("The %(name)s “%(obj)s” was deleted successfully."),
    gettext_noop("%(name)s with ID “%(key)s” doesn’t exist. Perhaps it was deleted?"),
    gettext_noop("Added {name} “{object}”."),
    gettext_noop("Changed {fields} for {name} “{object}”."),
    gettext_noop("Deleted {name} “{object}”."),
    gettext_noop(
        'Are you sure you want to delete the %(object_name)s "%(escaped_object)s"? '
        "All of the following related items will be deleted:"
    ),
    gettext_noop(
        "Deleting the %(object_name)s '%(escaped_object)s' would result in deleting related "
        "objects, but your account doesn't have permission to delete the following types of "
        "objects:"
    ),
    gettext_noop(
        "Deleting the %(object_name)s '%(escaped_object)s' would require deleting the "
        "following protected related objects:"
    ),
    gettext_noop(
        "Are you sure you want to delete the selected %(objects_name)s? All of the following "
        "objects and their related items will be deleted:"
    ),
    gettext_noop(
        "Deleting the selected %(objects_name)s would result in deleting related objects, but "
        "your account doesn't have permission to delete the following types of objects:"
    ),
    gettext_noop(
        "Deleting the selected %(objects_name)s would require deleting the following protected "
        "related objects:"
    ),
    gettext_noop("Yes, I’m sure"),
    ngettext_lazy(
        "%(count)s %(name)s was changed successfully.",
        "%(count)s %(name)s were changed successfully.",
        "count",
    ),
)

CELERY_BEAT = (
    gettext_noop("Periodic Tasks"),  # its app's name, «Периодические Задачи» in its catalogue
)

UNFOLD = (
    gettext_noop("Welcome back to"),
    gettext_noop("Return to site"),
    gettext_noop("Forgotten your password or username?"),
    gettext_noop("You have been successfully logged out from the administration"),
    gettext_noop("Toggle password visibility"),
    gettext_noop("Search apps and models..."),
    gettext_noop("Type to search"),
    gettext_noop("No results found"),
    gettext_noop("No results matching your query"),
    gettext_noop("Recent searches"),
    gettext_noop("No recent searches"),
    gettext_noop("All applications"),
    gettext_noop("Filters"),
    gettext_noop("Apply Filters"),
    gettext_noop("Reset filters"),
    gettext_noop("Date from"),
    gettext_noop("Date to"),
    gettext_noop("Select action"),
    gettext_noop("Select action to run"),
    gettext_noop("Run"),
    gettext_noop("Select all rows"),
    gettext_noop("More actions"),
    gettext_noop("Select value"),
    gettext_noop("Select record"),
    gettext_noop("Loading more results..."),
    gettext_noop("This page yielded into no results. Create a new item or reset your filters."),
    gettext_noop("No data"),
    gettext_noop("Not enough data."),
    gettext_noop("Add row"),
    gettext_noop("Add new item"),
    gettext_noop("This item will be deleted."),
    gettext_noop("Collapse"),
    gettext_noop("Expand row"),
    gettext_noop("Go back"),
    gettext_noop("Next"),
    gettext_noop("Previous"),
    gettext_noop("Cancel"),
    gettext_noop("Submit"),
    gettext_noop("True"),
    gettext_noop("False"),
    gettext_noop("Dark"),
    gettext_noop("Light"),
    gettext_noop("System"),
    gettext_noop("General"),
    gettext_noop("Changes"),
    gettext_noop("Changed by"),
    gettext_noop("Change reason"),
    gettext_noop("Change History"),
    gettext_noop("This object doesn't have a change history."),
    gettext_noop(
        "Choose a date from the list below to revert to a previous version of this object"
    ),
    gettext_noop("Press the 'Revert' button below to revert to this version of the object."),
    gettext_noop("Press the 'Change History' button below to edit the history."),
    gettext_noop("Revert"),
    gettext_noop("Object"),
    gettext_noop("Comment"),
    gettext_noop("Manage user"),
    gettext_noop("Manage group"),
    gettext_noop("User permissions"),
    gettext_noop("Group permissions"),
    gettext_noop("After you've created a user, you’ll be able to edit more user options."),
    gettext_noop(
        "Raw passwords are not stored, so there is no way to see this user’s password, but you "
        'can change the password using <a href="{}" class="text-primary-600 '
        'dark:text-primary-500">this form</a>.'
    ),
    gettext_noop("Choose file to upload"),
    gettext_noop("Current file"),
    gettext_noop("Enter an URL"),
)
