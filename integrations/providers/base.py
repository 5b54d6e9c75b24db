"""What every integration provider offers the portal. Kept small on purpose."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from django import forms

    from integrations.models import Integration


@dataclass(frozen=True)
class ConnectionCheck:
    """One area Test Connection verifies."""

    area: str
    label: str
    passed: bool | None  # None: not checked (an earlier step failed)
    detail: str = ""
    remedy: str = ""  # what to grant or fix, in the admin's words


@dataclass(frozen=True)
class ConnectionTestResult:
    checks: list[ConnectionCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def summary(self) -> str:
        failed = [c for c in self.checks if c.passed is False]
        if not failed:
            return "Every check passed."
        first = failed[0]
        return f"{first.label}: {first.detail}"

    def as_json(self) -> list[dict]:
        return [asdict(check) for check in self.checks]


class IntegrationProvider:
    key: ClassVar[str]
    name: ClassVar[str]
    category: ClassVar[str]  # "PSA" or "Accounting"
    description: ClassVar[str] = ""
    logo: ClassVar[str] = ""  # a static path
    order: ClassVar[int] = 100
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def settings_form_class(self) -> type[forms.Form]:
        raise NotImplementedError

    def initial_settings(self, integration: Integration | None) -> dict:
        """Form initial data; secrets are never included."""
        return dict(integration.config) if integration else {}

    def test_connection(self, integration: Integration) -> ConnectionTestResult:
        raise NotImplementedError
