"""What the HTTP API accepts and answers (pydantic lives here and nowhere else).

Create / Update / Public models are separate, so an internal column (a
password hash, a blob's location) can never leak into an answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

# The status words are defined once, with the rules.
from mailfiler.core.plan import FileStatus
from mailfiler.core.rules import Kind, Status
from mailfiler.core.words import EDITION_NAMES, KIND_NAMES, Tone


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusWords(BaseModel):
    """A status's words and tone, sent with it (``core.words``): no page keeps a map."""

    label: str = Field(description="The status as people read it.")
    tone: Tone = Field(description="How it is shown: good, warn, bad or plain.")


class KindWords(BaseModel):
    """A record's kind as people read it, sent with it (``core.words``)."""

    kind: Literal["interaction", "activity"]

    @computed_field(description="The kind as people read it: Interaction or Activity.")  # type: ignore[prop-decorator]
    @property
    def kind_label(self) -> str:
        return KIND_NAMES[self.kind]


class Incoming(Model):
    """What a caller sends to be kept: no text in it may hold a NUL (no database column can).

    A message's own text is not checked here: the reader drops its NULs.
    """

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if _holds_nul(data):
            raise ValueError("text cannot hold a NUL character (\\u0000)")
        return data


def _holds_nul(data: Any) -> bool:
    if isinstance(data, str):
        return "\x00" in data
    if isinstance(data, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in data.items())
    if isinstance(data, list | tuple):
        return any(_holds_nul(item) for item in data)
    return False


# -- sign-in -------------------------------------------------------------------------


class SessionCreate(Incoming):
    cloud_id: str = Field(min_length=1, max_length=64)
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class SessionPublic(Model):
    token: str
    expires_at: datetime
    cloud_id: str
    organisation: str
    user: UserPublic


# -- contacts -------------------------------------------------------------------------


class ContactPublic(Model):
    id: str
    full_name: str
    organization: str = ""
    emails: list[str] = []
    profile_url: str | None = None


class ContactCreate(Incoming):
    full_name: str = Field(min_length=1, max_length=200)
    emails: list[str] = Field(min_length=1, max_length=20)
    organization: str = Field(default="", max_length=200)


class StoredFilePublic(Model):
    id: str
    filename: str
    size: int
    content_type: str
    content_id: str | None = None
    url: str


class MissingFilePublic(Model):
    name: str
    reason: str


class TimelineItem(Model, KindWords):
    id: str
    subject: str
    to_line: str | None
    body: str
    activity_type: str | None
    fields: dict[str, Any]
    created_by: str
    saved_by: str
    saved_at: datetime
    message_id: str | None
    attachments: list[StoredFilePublic]
    # Where the record is, for a CRM that does not show its records here (the contact's
    # page in iMIS, from the profile URL): the record itself is there.
    link: str | None = None
    crm: str = Field(description='The CRM it was filed in, as people read it ("iMIS").')
    shown_here: bool = Field(
        default=True, description="Its body, fields and files are here (else in the CRM)."
    )
    sender: str = ""
    recipients: str = ""
    sent_at: datetime | None = None  # with its zone
    field_labels: dict[str, str] = {}  # an Activity's field names -> their labels
    # "partial": the record is there, without the files listed in missing_files
    status: Literal["saved", "partial"] = "saved"
    missing_files: list[MissingFilePublic] = []


class TimelinePage(Model):
    items: list[TimelineItem]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class RecordToCheck(Model, StatusWords, KindWords):
    """A record that needs someone: the CRM never answered (unsure), refused it (failed), or
    took it without some of its files (partial)."""

    number: int  # what settling it names
    # "saved" only in the answer to settling it: it needs nobody any more
    status: Literal["unsure", "failed", "partial", "saved"]
    contact_id: str
    subject: str
    record_id: str | None
    saved_by: str
    reserved_at: datetime
    reason: str
    missing_files: list[MissingFilePublic]
    # After asking the CRM: what it said, when it could not tell
    crm_said: str | None = None


class SettleRequest(Incoming):
    """After checking the CRM: it holds the record (``landed``, the key it shows for it), or
    it does not (``send_again``: the next save of the message writes it); or ``ask_crm``:
    mailfiler asks the CRM itself, and settles it where the CRM can tell."""

    landed: str | None = Field(default=None, min_length=1, max_length=100)
    send_again: bool = False
    ask_crm: bool = False

    @model_validator(mode="after")
    def _one_of_them(self) -> SettleRequest:
        if [self.landed is not None, self.send_again, self.ask_crm].count(True) != 1:
            raise ValueError(
                "give one of landed (the CRM's key for the record), send_again or ask_crm"
            )
        return self


class ContactDetail(ContactPublic):
    timeline: TimelinePage
    to_check: list[RecordToCheck] = []  # this contact's records that need someone


# -- reading a message -------------------------------------------------------------------


class AddressIn(Model):
    address: str = Field(min_length=3, max_length=320)
    name: str = Field(default="", max_length=300)


class ComposedAttachment(Model):
    name: str = Field(max_length=500)
    content_type: str = "application/octet-stream"
    content_base64: str
    content_id: str | None = None
    inline: bool = False


class ComposedMessage(Model):
    """A message given by its fields, as Office.js hands them over.

    ``compose`` for a message being written; ``read`` for a received one whose
    host cannot hand over the whole file (no ``getAsFileAsync``).
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    mode: Literal["read", "compose"] = "compose"
    message_id: str | None = Field(default=None, max_length=1000)
    date: datetime | None = None
    sender: AddressIn | None = Field(default=None, alias="from")
    to: list[AddressIn] = []
    cc: list[AddressIn] = []
    bcc: list[AddressIn] = []
    subject: str = ""
    html_body: str | None = None
    text_body: str | None = None
    attachments: list[ComposedAttachment] = []
    # True when the host could not hand over the attachments' bytes.
    attachments_unavailable: bool = False


class AddressPublic(Model):
    address: str
    name: str


class ParticipantPublic(Model, StatusWords):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    role: str
    address: str
    name: str
    status: Status
    is_self: bool = Field(alias="self", serialization_alias="self")
    reason: str
    contacts: list[ContactPublic]
    contact_id: str | None = None
    # Shown in the review and the results (yourself only on To or Cc, the product page).
    listed: bool = True
    filed: bool = False  # a record for it is there (or may be): not among "not saved"


class AttachmentPublic(Model, StatusWords):
    id: str
    name: str
    saved_as: str | None
    size: int
    content_type: str
    status: FileStatus
    reason: str
    inline: bool = False
    chosen_out: bool = False  # the user left it out: no news among what was not saved


class ActionPublic(Model):
    state: Literal["allowed", "hidden", "refused"]
    reason: str = ""


class Actions(Model):
    interaction: ActionPublic
    activity: ActionPublic
    add_contact: ActionPublic


class ActivityFieldValue(Model):
    name: str
    label: str
    value: str
    takes: Literal["text", "date", "number"] = "text"  # a date is ISO 8601 with its zone
    max_length: int | None = None


class ActivityTypeOffer(Model):
    code: str
    name: str
    default: bool
    fields: list[ActivityFieldValue]


class SaveVerdict(Model):
    allowed: bool
    reason: str  # why not, when it is not allowed ("" when it is)


class SaveVerdicts(Model):
    interaction: SaveVerdict
    activity: SaveVerdict


class MessagePublic(Model):
    message_ref: str
    kind: Kind = "interaction"  # the kind the Save buttons offer first
    subject: str
    date: datetime | None
    sender: AddressPublic | None
    message_id: str | None
    mode: Literal["read", "compose"]
    participants: list[ParticipantPublic]
    attachments: list[AttachmentPublic]
    attachments_missing: bool
    attachments_note: str | None
    actions: Actions
    activity_types: list[ActivityTypeOffer]
    notes: list[str]
    # Whether each Save button may be pressed, and why not (POST /preview says it again
    # for the user's choices as they change them).
    saves: SaveVerdicts
    crm: str = "the built-in CRM"  # the CRM's name, in the sentences the pane shows
    new_contact_note: str | None = None  # what adding a contact cannot promise


# -- saving it --------------------------------------------------------------------------


class ActivityChoice(Incoming):
    type: str | None = None
    fields: dict[str, str] = {}


class SaveRequest(Incoming):
    contact_ids: list[str] | None = Field(
        default=None, description="The contacts kept; omitted means every matched contact."
    )
    attachment_ids: list[str] | None = Field(
        default=None, description="The attachments kept; omitted means all of them."
    )
    eml: bool = False
    picks: dict[str, str] = Field(
        default={}, description="For a shared address, the contact chosen: address -> contact ID."
    )
    activity: ActivityChoice | None = None


class PreviewRequest(SaveRequest):
    """The choices the user has made so far, and the kind about to be saved."""

    kind: Kind = "interaction"


class PreviewPublic(Model):
    """What saving would do now, with these choices: the pane shows it as it is."""

    kind: Kind
    participants: list[ParticipantPublic]
    attachments: list[AttachmentPublic]
    notes: list[str]
    save: SaveVerdict  # for the kind asked
    saves: SaveVerdicts  # for each kind: each Save button's own


class SaveResult(Model, StatusWords):
    contact_id: str
    status: Status
    filed: bool = False  # the record is there (or may be): not among "not saved"
    record_id: str | None
    reason: str


class SaveResponse(Model, KindWords):
    summary: str  # the save in one line: "2 saved, 1 already saved, 1 not saved"
    results: list[SaveResult]
    attachments: list[AttachmentPublic]
    eml: AttachmentPublic | None
    attachments_note: str | None
    # Every address of the message as the save left it, with its status and reason:
    # what was not saved is listed too.
    participants: list[ParticipantPublic] = []


# -- options and users --------------------------------------------------------------------


class ActivityFieldSetup(Incoming):
    name: str = Field(min_length=1, max_length=64)
    label: str = Field(default="", max_length=200)


class ActivityTypeSetup(Incoming):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=200)
    fields: list[ActivityFieldSetup] = []
    defaults: dict[str, str] = {}
    mapping: dict[str, str] = Field(
        default={},
        description="Message token (subject, body, sender, recipients, sent_on) -> field.",
    )
    roles: list[str] = []


class CrmPublic(Model):
    """Which CRM the organisation files into. The background password is never shown."""

    crm: str = Field(description="Which CRM: one this server knows (mailfiler init --crm).")
    label: str = Field(default="", description='Its name as people read it ("iMIS").')
    # It is elsewhere, with an address and a background account to set (iMIS).
    remote: bool = False
    url: str | None = None
    background_account: str
    background_password_set: bool = False
    mapping: dict[str, Any] = {}


class CrmUpdate(Incoming):
    # What GET answers may be sent back as it is: these two are read, not changed.
    crm: str | None = None
    label: str | None = None
    remote: bool | None = None
    background_password_set: bool | None = None
    url: str | None = Field(
        default=None,
        max_length=500,
        description="The iMIS site (https://…). A new address needs background_password in "
        "the same change: the stored password is never sent to a new address.",
    )
    background_account: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="A new account needs background_password in the same change.",
    )
    background_password: str | None = Field(
        default=None, min_length=1, max_length=1000, description="Write-only: never returned."
    )
    mapping: dict[str, Any] | None = Field(
        default=None, description="Entity and field names in iMIS (see the README)."
    )


class OptionsPublic(Model):
    profile_url: str
    interaction_roles: list[str]
    hide_interaction: bool
    activity_roles: list[str]
    add_contact_roles: list[str]
    change_options_roles: list[str]
    allow_duplicates: bool
    max_total_emails: int
    edition: Literal["enterprise", "professional"]
    activity_types: list[ActivityTypeSetup]
    default_activity_type: str
    can_change: bool = False
    crm: CrmPublic | None = None
    # The editions the Options screen offers, each as people read it.
    edition_names: dict[str, str] = Field(default_factory=lambda: dict(EDITION_NAMES))


class OptionsUpdate(Incoming):
    profile_url: str = ""
    interaction_roles: list[str] = []
    hide_interaction: bool = False
    activity_roles: list[str] = []
    add_contact_roles: list[str] = ["SysAdmin"]
    change_options_roles: list[str] = ["SysAdmin"]
    allow_duplicates: bool = False
    max_total_emails: int = Field(default=50, ge=1, le=10_000)
    edition: Literal["enterprise", "professional"] = "enterprise"
    activity_types: list[ActivityTypeSetup] = []
    default_activity_type: str = ""
    crm: CrmUpdate | None = None
    # What GET answers may be sent back as it is: read, not changed.
    edition_names: dict[str, str] | None = None


class SetUpLine(Model):
    """One thing the CRM set-up check looked at: right (``ok``), or what to fix."""

    what: str
    ok: bool
    says: str = Field(description="What was found, or one sentence of what to fix.")


class SetUpCheckPublic(Model):
    """The CRM set-up check ("Test the connection"): ``ok`` when every line is."""

    ok: bool
    lines: list[SetUpLine]


class UserPublic(Model):
    """A user of the organisation, as every answer names one (the service's ``Member``)."""

    model_config = ConfigDict(from_attributes=True)

    username: str
    email: str
    roles: list[str]
    disabled: bool


class UserCreate(Incoming):
    username: str = Field(min_length=1, max_length=100)
    email: str = Field(default="", max_length=320)
    roles: list[str] = []
    password: str = Field(min_length=8, max_length=1000)


class UserUpdate(Incoming):
    email: str | None = Field(default=None, max_length=320)
    roles: list[str] | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1000)


class Problem(Model):
    """An error, as RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
