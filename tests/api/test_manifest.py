"""The Outlook add-in manifest, generated for the server's public address."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mailfiler.api.web import manifest_xml
from tests.api.conftest import Api

NS = {
    "o": "http://schemas.microsoft.com/office/appforoffice/1.1",
    "v": "http://schemas.microsoft.com/office/mailappversionoverrides",
    "bt": "http://schemas.microsoft.com/office/officeappbasictypes/1.0",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def test_the_manifest_points_outlook_at_this_server(api: Api) -> None:
    answer = api.client.get("/addin/manifest.xml")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(
        "application/xml"
    )
    root = ET.fromstring(answer.content)
    assert root.get(XSI_TYPE) == "MailApp"
    # The elements OfficeApp requires, in the order its schema demands.
    order = [child.tag.split("}")[1] for child in root]
    assert order[:10] == [
        "Id", "Version", "ProviderName", "DefaultLocale", "DisplayName", "Description",
        "IconUrl", "HighResolutionIconUrl", "SupportUrl", "AppDomains",
    ]  # fmt: skip
    pane_url = root.find("o:FormSettings/o:Form/o:DesktopSettings/o:SourceLocation", NS)
    assert pane_url is not None
    assert pane_url.get("DefaultValue") == "http://testserver/addin/taskpane.html"
    surfaces = [e.get(XSI_TYPE) for e in root.iter(f"{{{NS['v']}}}ExtensionPoint")]
    assert surfaces == ["MessageReadCommandSurface", "MessageComposeCommandSurface"]
    labels = {s.get("id"): s.get("DefaultValue") for s in root.iter(f"{{{NS['bt']}}}String")}
    assert labels["SaveButton.Label"] == "Save to CRM"
    for image in root.iter(f"{{{NS['bt']}}}Image"):
        url = image.get("DefaultValue")
        if url:
            path = url.replace("http://testserver", "")
            icon = api.client.get(path)
            assert icon.status_code == 200 and icon.content.startswith(b"\x89PNG")


def test_a_configured_public_url_wins_and_the_add_in_id_is_stable() -> None:
    first = ET.fromstring(manifest_xml("https://crm.acme.org/"))
    again = ET.fromstring(manifest_xml("https://crm.acme.org"))
    other = ET.fromstring(manifest_xml("https://crm.other.org"))
    find = "o:Id"
    assert first.find(find, NS).text == again.find(find, NS).text  # type: ignore[union-attr]
    assert first.find(find, NS).text != other.find(find, NS).text  # type: ignore[union-attr]
    assert 'DefaultValue="https://crm.acme.org/addin/taskpane.html"' in manifest_xml(
        "https://crm.acme.org"
    )


def test_the_pages_are_served_with_their_policies(api: Api) -> None:
    pane = api.client.get("/addin/taskpane.html")
    assert pane.status_code == 200 and "office.js" in pane.text
    assert "https://appsforoffice.microsoft.com" in pane.headers["content-security-policy"]
    assert api.client.get("/", follow_redirects=False).headers["location"] == "/addin/taskpane.html"
    assert api.client.get("/staff", follow_redirects=False).headers["location"] == "/staff/"
