"""Secret files that others may read or change are refused (issue 17), naming `chmod 600`."""

from __future__ import annotations

import textwrap

import pytest

from runbooklib.actions import secrets
from runbooklib.actions.common import ActionError
from runbooklib.inventory import Inventory


def _inventory(tmp_path, **files) -> Inventory:
    lines = "".join(f"    {key}: {path}\n" for key, path in files.items())
    path = tmp_path / "site.yml"
    path.write_text(
        'all:\n  vars:\n    window: {start: "08:00", end: "12:00"}\n'
        + lines
        + textwrap.dedent(
            """\
              children:
                db:
                  hosts:
                    caje: {ansible_host: 192.0.2.21}
            """
        )
    )
    return Inventory.load(path)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
@pytest.mark.parametrize("key", ["db_password_file", "jmx_password_file"])
def test_a_secret_file_open_to_others_is_refused(tmp_path, key, mode):
    secret = tmp_path / "secret"
    secret.write_text("sakai long-enough-pa55word\n")
    secret.chmod(mode)
    inv = _inventory(tmp_path, **{key: secret})
    register = (
        secrets.register_db_password if key == "db_password_file" else secrets.register_jmx_password
    )

    with pytest.raises(ActionError) as refused:
        register(inv)

    assert str(refused.value) == (
        f"{key} {secret} is open to others (mode {mode:04o}): make it yours alone with "
        f"`chmod 600 {secret}`"
    )


@pytest.mark.parametrize("key", ["db_password_file", "jmx_password_file"])
def test_a_secret_file_of_the_operator_alone_is_used(tmp_path, key):
    secret = tmp_path / "secret"
    secret.write_text("sakai long-enough-pa55word\n")
    secret.chmod(0o600)
    inv = _inventory(tmp_path, **{key: secret})
    register = (
        secrets.register_db_password if key == "db_password_file" else secrets.register_jmx_password
    )

    assert register(inv) is True
