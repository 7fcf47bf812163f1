"""The pages: the Outlook task pane (also the drop page), the staff site, and the manifest.

Plain HTML, CSS and JavaScript modules served as they are: nothing to build.
Each page is sent with a Content-Security-Policy: the staff site's is strict
(its own scripts only; a filed message's HTML is shown in a sandboxed frame
that can run nothing), the task pane's also allows Office.js, which Outlook
loads from Microsoft.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

WEB = Path(__file__).resolve().parents[1] / "web"
OFFICE_JS = "https://appsforoffice.microsoft.com/lib/1/hosted/office.js"

STAFF_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-src 'self' blob: about:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Outlook shows the pane in a frame of its own pages (on the web) or a web view.
PANE_POLICY = (
    "default-src 'self'; script-src 'self' https://appsforoffice.microsoft.com; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; "
    "connect-src 'self' https://*.office.com https://*.office365.com https://*.outlook.com; "
    "frame-src 'self' https:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self' https://*.office.com https://*.office365.com "
    "https://*.outlook.com https://outlook.live.com https://*.microsoft.com"
)

DESCRIPTION = "Save email to your CRM as Interactions or Activities, for every contact on it."
TOOLTIP = "Save this email to the CRM for the contacts on it."

router = APIRouter(include_in_schema=False)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/addin/taskpane.html")


@router.get("/staff")
def staff_home() -> RedirectResponse:
    return RedirectResponse("/staff/")


@router.get("/addin/manifest.xml")
def manifest(request: Request) -> Response:
    """The Outlook add-in manifest, pointing at this server's public address."""
    public = request.app.state.public_url or str(request.base_url)
    return Response(manifest_xml(public), media_type="application/xml")


def manifest_xml(public_url: str) -> str:
    base = public_url.rstrip("/")
    url = escape(base)
    # The same server always gets the same add-in ID, so re-installing updates it.
    add_in_id = uuid.uuid5(uuid.NAMESPACE_URL, base + "/addin")
    pane = f"{url}/addin/taskpane.html"

    def surface(kind: str, group: str) -> str:
        return f"""
          <ExtensionPoint xsi:type="{kind}">
            <OfficeTab id="TabDefault">
              <Group id="{group}">
                <Label resid="GroupLabel"/>
                <Control xsi:type="Button" id="{group}.SaveToCrm">
                  <Label resid="SaveButton.Label"/>
                  <Supertip>
                    <Title resid="SaveButton.Label"/>
                    <Description resid="SaveButton.Tooltip"/>
                  </Supertip>
                  <Icon>
                    <bt:Image size="16" resid="Icon.16"/>
                    <bt:Image size="32" resid="Icon.32"/>
                    <bt:Image size="80" resid="Icon.80"/>
                  </Icon>
                  <Action xsi:type="ShowTaskpane">
                    <SourceLocation resid="Taskpane.Url"/>
                  </Action>
                </Control>
              </Group>
            </OfficeTab>
          </ExtensionPoint>"""

    return f"""<?xml version="1.0" encoding="UTF-8"?>
<OfficeApp xmlns="http://schemas.microsoft.com/office/appforoffice/1.1"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
           xmlns:bt="http://schemas.microsoft.com/office/officeappbasictypes/1.0"
           xmlns:mailappor="http://schemas.microsoft.com/office/mailappversionoverrides/1.0"
           xsi:type="MailApp">
  <Id>{add_in_id}</Id>
  <Version>1.0.0.0</Version>
  <ProviderName>mailfiler</ProviderName>
  <DefaultLocale>en-US</DefaultLocale>
  <DisplayName DefaultValue="mailfiler"/>
  <Description DefaultValue="{DESCRIPTION}"/>
  <IconUrl DefaultValue="{url}/addin/icons/icon-64.png"/>
  <HighResolutionIconUrl DefaultValue="{url}/addin/icons/icon-128.png"/>
  <SupportUrl DefaultValue="{url}/staff/"/>
  <AppDomains>
    <AppDomain>{url}</AppDomain>
  </AppDomains>
  <Hosts>
    <Host Name="Mailbox"/>
  </Hosts>
  <Requirements>
    <Sets>
      <Set Name="Mailbox" MinVersion="1.1"/>
    </Sets>
  </Requirements>
  <FormSettings>
    <Form xsi:type="ItemRead">
      <DesktopSettings>
        <SourceLocation DefaultValue="{pane}"/>
        <RequestedHeight>450</RequestedHeight>
      </DesktopSettings>
    </Form>
    <Form xsi:type="ItemEdit">
      <DesktopSettings>
        <SourceLocation DefaultValue="{pane}"/>
      </DesktopSettings>
    </Form>
  </FormSettings>
  <Permissions>ReadWriteItem</Permissions>
  <Rule xsi:type="RuleCollection" Mode="Or">
    <Rule xsi:type="ItemIs" ItemType="Message" FormType="Read"/>
    <Rule xsi:type="ItemIs" ItemType="Message" FormType="Edit"/>
  </Rule>
  <DisableEntityHighlighting>false</DisableEntityHighlighting>
  <VersionOverrides xmlns="http://schemas.microsoft.com/office/mailappversionoverrides"
                    xsi:type="VersionOverridesV1_0">
    <Requirements>
      <bt:Sets DefaultMinVersion="1.3">
        <bt:Set Name="Mailbox"/>
      </bt:Sets>
    </Requirements>
    <Hosts>
      <Host xsi:type="MailHost">
        <DesktopFormFactor>{surface("MessageReadCommandSurface", "mailfiler.read")}{
        surface("MessageComposeCommandSurface", "mailfiler.compose")
    }
        </DesktopFormFactor>
      </Host>
    </Hosts>
    <Resources>
      <bt:Images>
        <bt:Image id="Icon.16" DefaultValue="{url}/addin/icons/icon-16.png"/>
        <bt:Image id="Icon.32" DefaultValue="{url}/addin/icons/icon-32.png"/>
        <bt:Image id="Icon.80" DefaultValue="{url}/addin/icons/icon-80.png"/>
      </bt:Images>
      <bt:Urls>
        <bt:Url id="Taskpane.Url" DefaultValue="{pane}"/>
      </bt:Urls>
      <bt:ShortStrings>
        <bt:String id="GroupLabel" DefaultValue="mailfiler"/>
        <bt:String id="SaveButton.Label" DefaultValue="Save to CRM"/>
      </bt:ShortStrings>
      <bt:LongStrings>
        <bt:String id="SaveButton.Tooltip" DefaultValue="{TOOLTIP}"/>
      </bt:LongStrings>
    </Resources>
  </VersionOverrides>
</OfficeApp>
"""


def install(app: FastAPI, public_url: str | None) -> None:
    app.state.public_url = public_url
    app.include_router(router)
    app.mount("/addin", StaticFiles(directory=WEB / "addin", html=True), name="addin")
    app.mount("/staff", StaticFiles(directory=WEB / "staff", html=True), name="staff")
    app.mount("/shared", StaticFiles(directory=WEB / "shared"), name="shared")


def page_headers(path: str, _state: dict[str, Any]) -> dict[str, str]:
    headers = {}
    if path.startswith("/addin/"):
        headers["Content-Security-Policy"] = PANE_POLICY
    elif path.startswith(("/staff", "/shared/")):
        headers["Content-Security-Policy"] = STAFF_POLICY
        headers["X-Frame-Options"] = "DENY"
    if path.endswith((".html", ".js", ".css", "/")):
        # Pages change with each release; a stale script would talk to a newer API.
        headers["Cache-Control"] = "no-cache"
    return headers
