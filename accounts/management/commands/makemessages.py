"""Django's makemessages with the portal's defaults, so `manage.py makemessages -l xx` always
builds the same catalog (connectbooster/locale, settings.LOCALE_PATHS): the portal's code and
templates only, and no source locations (a moved line would otherwise rewrite the catalog)."""

from django.core.management.commands import makemessages

# Not the portal's interface: tests, benchmarks, the vendor sandboxes, scripts, build output.
NOT_INTERFACE = [
    "tests/*",
    "benchmarks/*",
    "bms_sandbox/*",
    "xero_sandbox/*",
    "scripts/*",
    "staticfiles/*",
    "test-artifacts/*",
    "var/*",
    "build/*",
    "dist/*",
    "node_modules/*",
]


class Command(makemessages.Command):
    def handle(self, *args, **options):
        options["ignore_patterns"] = [*options.get("ignore_patterns", []), *NOT_INTERFACE]
        options["no_location"] = True
        return super().handle(*args, **options)
