from cryptography.fernet import Fernet
from django.core.management import call_command

from integrations.models import Integration


def test_rotate_command_re_encrypts_under_the_first_key(bms_integration, settings, sandbox_settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    old_token = Integration.objects.get().encrypted_secrets["password"]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_encryption_keys")
    integration = Integration.objects.get()
    new_token = integration.encrypted_secrets["password"]
    assert new_token != old_token
    # Readable with the new key alone: the old one can now be retired.
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert integration.get_secret("password") == sandbox_settings["password"]
    assert Fernet(new_key.encode()).decrypt(new_token.encode()).decode() == sandbox_settings["password"]
