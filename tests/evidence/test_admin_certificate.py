"""`sanad admin certificate`: the certificate a caseworker's signed exports carry, written for
them from the database, only when it verifies under the pinned organisation key."""

from __future__ import annotations

import pytest

from crypto.certificates import verify_certificate
from tests.caseworkers.test_admin_cli import Deployment, deployment  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


async def test_admin_writes_the_approved_caseworkers_certificate(deployment: Deployment) -> None:  # noqa: F811
    enrolment, keys = await deployment.enrol("Amira")
    await deployment.approve(enrolment)
    result = deployment.sanad("admin", "certificate", "Amira", "--out", "amira.certificate")
    assert result.returncode == 0, result.stderr
    written = (deployment.folder / "amira.certificate").read_bytes()
    certificate = verify_certificate(written, deployment.org.signing.public_key)
    assert certificate.keys == keys.public
    assert "the certificate of Amira" in result.stdout

    await deployment.enrol("Bilal")  # enrolled, not approved: no certificate yet
    refused = deployment.sanad("admin", "certificate", "Bilal", "--out", "bilal.certificate")
    assert refused.returncode == 1
    assert "has no certificate" in refused.stderr
    assert not (deployment.folder / "bilal.certificate").exists()
