// @ts-check
// The review's state and its transitions: pure functions, no page and no server, so that
// `node --test` runs them (tests/js). The rules stay on the server: what each contact and
// file would become, and whether Save may be pressed, is the server's answer to
// POST /messages/{ref}/preview for the choices held here; the pane shows it as it is.

/** @typedef {import("../types/api").components["schemas"]} Schemas */
/** @typedef {Schemas["MessagePublic"]} Review */
/** @typedef {Schemas["PreviewPublic"]} Preview */
/** @typedef {Schemas["PreviewRequest"]} PreviewRequest */
/** @typedef {Schemas["SaveResponse"]} SaveResponse */
/** @typedef {Schemas["ContactPublic"]} Contact */
/** @typedef {Schemas["ParticipantPublic"]} Participant */
/** @typedef {"interaction" | "activity"} Kind */
/** @typedef {"from" | "to" | "cc" | "bcc"} Line */

/**
 * A line of the review: a participant of the message, or a contact added by search, with
 * what saving would do for them now; `read` is its status when the message was read (a
 * shared address stays a choice, an unknown one can still be added).
 * @typedef {Participant & { key: string, read: Participant["status"] }} Entry
 */

/**
 * @typedef {object} ActivityForm  the Activity being edited before it is saved
 * @property {string} type  its activity type's code
 * @property {Record<string, string>} fields
 */

/**
 * @typedef {object} ReviewState
 * @property {Review} review  the server's review of the message
 * @property {Preview | null} preview  the server's answer for the choices below (null: none yet)
 * @property {Record<Line, boolean>} filters  the From / To / Cc / Bcc filter: line -> saved?
 * @property {Set<string>} removed  entries removed with their "X", by key
 * @property {Record<string, string>} picks  a shared address (lower case) -> the contact chosen
 * @property {Contact[]} added  contacts added by search
 * @property {boolean} eml  the whole message as an .eml file
 * @property {Set<string>} keep  the attachments kept, by ID
 * @property {ActivityForm | null} activityForm
 * @property {boolean} saving  a save is under way: a second press does nothing
 * @property {(SaveResponse & { kind: Kind }) | null} results  the last save's answer
 */

/** @type {Line[]} */
export const LINES = ["from", "to", "cc", "bcc"];

/**
 * The state of a message just read: every line saved, nothing removed, every file kept.
 * @param {Review} review
 * @returns {ReviewState}
 */
export function reviewed(review) {
  return {
    review,
    preview: null,
    filters: { from: true, to: true, cc: true, bcc: true },
    removed: new Set(),
    picks: {},
    added: [],
    eml: false,
    keep: new Set(review.attachments.filter((a) => a.status !== "empty").map((a) => a.id)),
    activityForm: null,
    saving: false,
    results: null,
  };
}

/**
 * The same message read again (after adding a contact, signing in again, or a save): the
 * server's new review, with the user's choices as they were.
 * @param {ReviewState} state
 * @param {Review} review
 * @returns {ReviewState}
 */
export function reviewedAgain(state, review) {
  return { ...state, review, preview: null, results: null, saving: false };
}

/**
 * @param {Participant} participant
 * @returns {string}
 */
function keyOf(participant) {
  if (participant.role === "added") return `added:${participant.contact_id}`;
  return `${participant.role}:${participant.address.toLowerCase()}`;
}

/**
 * @param {Contact} contact
 * @returns {Participant}
 */
function addedEntry(contact) {
  // Shown at once, as the server last said of a contact added: the preview that follows
  // says what saving to them would do.
  return {
    role: "added",
    address: contact.emails[0] || "",
    name: contact.full_name,
    // Until the server's preview says what saving to them would do.
    status: "would_save",
    label: "checking…",
    tone: "plain",
    self: false,
    listed: true,
    filed: false,
    reason: "Added by you",
    contacts: [contact],
    contact_id: contact.id,
  };
}

/**
 * The review's lines, each with what the server says of it now: the preview for the
 * current choices when it has come, the first review until then.
 * @param {ReviewState} state
 * @returns {Entry[]}
 */
export function entries(state) {
  const said = new Map((state.preview ? state.preview.participants : []).map((p) => [keyOf(p), p]));
  /** @type {Entry[]} */
  const shown = [];
  for (const participant of [...state.review.participants, ...state.added.map(addedEntry)]) {
    // As the server lists them (yourself only on To or Cc, the product page).
    if (!participant.listed) continue;
    const key = keyOf(participant);
    if (shown.some((e) => e.key === key)) continue;
    const now = said.get(key);
    const read = participant.status;
    // Who the line is stays as read; what saving would do is the server's latest answer.
    const saying = now ? { status: now.status, label: now.label, tone: now.tone, reason: now.reason } : {};
    shown.push({ ...participant, ...saying, key, read });
  }
  return shown;
}

/**
 * Is the entry among those to save (its line's filter on, not removed)?
 * @param {ReviewState} state
 * @param {Entry} entry
 */
export function visible(state, entry) {
  if (entry.role !== "added" && !state.filters[/** @type {Line} */ (entry.role)]) return false;
  return !state.removed.has(entry.key);
}

/**
 * The contacts the user has chosen: each shown entry's contact, or the one picked for a
 * shared address.
 * @param {ReviewState} state
 * @returns {string[]}
 */
export function chosenContactIds(state) {
  /** @type {string[]} */
  const ids = [];
  for (const entry of entries(state)) {
    if (!visible(state, entry)) continue;
    const id = entry.contact_id || state.picks[entry.address.toLowerCase()];
    if (id && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

/**
 * A line's filter turned off or on; turning it on again restores the entries removed from it.
 * @param {ReviewState} state
 * @param {Line} line
 * @returns {ReviewState}
 */
export function toggleLine(state, line) {
  const on = !state.filters[line];
  const removed = new Set(state.removed);
  if (on) for (const entry of entries(state)) if (entry.role === line) removed.delete(entry.key);
  return { ...state, filters: { ...state.filters, [line]: on }, removed };
}

/**
 * @param {ReviewState} state
 * @param {string} key
 * @returns {ReviewState}
 */
export function removeEntry(state, key) {
  return { ...state, removed: new Set([...state.removed, key]) };
}

/**
 * @param {ReviewState} state
 * @param {Contact} contact
 * @returns {ReviewState}
 */
export function addContact(state, contact) {
  if (state.added.some((a) => a.id === contact.id)) return state;
  return { ...state, added: [...state.added, contact] };
}

/**
 * @param {ReviewState} state
 * @param {string} address
 * @param {string} contactId
 * @returns {ReviewState}
 */
export function pick(state, address, contactId) {
  return { ...state, picks: { ...state.picks, [address.toLowerCase()]: contactId } };
}

/**
 * @param {ReviewState} state
 * @param {boolean} eml
 * @returns {ReviewState}
 */
export function chooseEml(state, eml) {
  return { ...state, eml };
}

/**
 * @param {ReviewState} state
 * @param {string} id
 * @param {boolean} kept
 * @returns {ReviewState}
 */
export function keepFile(state, id, kept) {
  const keep = new Set(state.keep);
  if (kept) keep.add(id);
  else keep.delete(id);
  return { ...state, keep };
}

/**
 * @param {ReviewState} state
 * @param {ActivityForm | null} activityForm
 * @returns {ReviewState}
 */
export function editActivity(state, activityForm) {
  return { ...state, activityForm };
}

/**
 * The kind a save would be now: an Activity while its form is open, else the one the
 * server offers first (the first the user may save).
 * @param {ReviewState} state
 * @returns {Kind}
 */
export function kindNow(state) {
  if (state.activityForm) return "activity";
  return state.review.kind;
}

/**
 * What the server is asked, for a save or its preview: the current choices.
 * @param {ReviewState} state
 * @param {Kind} kind
 * @param {ActivityForm | null} activity
 * @returns {PreviewRequest}
 */
export function choices(state, kind, activity = null) {
  /** @type {PreviewRequest} */
  const request = {
    kind,
    contact_ids: chosenContactIds(state),
    attachment_ids: state.eml ? null : [...state.keep],
    eml: state.eml,
    picks: state.picks,
  };
  if (kind === "activity" && activity) request.activity = activity;
  return request;
}

/**
 * The server's answer for these choices, kept when it is for the choices held now.
 * @param {ReviewState} state
 * @param {Preview} preview
 * @param {string} askedFor  what `asked(state)` was when it was asked
 * @returns {ReviewState}
 */
export function previewed(state, preview, askedFor) {
  return asked(state) === askedFor ? { ...state, preview } : state;
}

/**
 * The choices as one string: an answer is for the choices held now when they are equal.
 * @param {ReviewState} state
 */
export function asked(state) {
  // Not the Activity's fields: what is typed in them changes no contact's status.
  const type = state.activityForm ? state.activityForm.type : null;
  return JSON.stringify({ ...choices(state, kindNow(state)), type });
}

/**
 * Whether a Save button may be pressed now, and why not: the action (the user's roles,
 * the edition) and the server's verdict on the current choices.
 * @param {ReviewState} state
 * @param {Kind} kind
 * @returns {{ shown: boolean, enabled: boolean, reason: string }}
 */
export function saveButton(state, kind) {
  const action = state.review.actions[kind];
  if (action.state === "hidden") return { shown: false, enabled: false, reason: "" };
  if (action.state === "refused") return { shown: true, enabled: false, reason: action.reason };
  if (state.saving) return { shown: true, enabled: false, reason: "" };
  if (chosenContactIds(state).length === 0) {
    return { shown: true, enabled: false, reason: "Select at least one contact to save to." };
  }
  // The server's verdict for the choices now, or, until it answers, for the message as read.
  const verdict = (state.preview || state.review).saves[kind];
  if (!verdict.allowed) return { shown: true, enabled: false, reason: verdict.reason };
  return { shown: true, enabled: true, reason: "" };
}

/**
 * A save begun; null when one is already under way (a double click saves once).
 * @param {ReviewState} state
 * @returns {ReviewState | null}
 */
export function saveBegun(state) {
  return state.saving ? null : { ...state, saving: true };
}

/**
 * @param {ReviewState} state
 * @param {Kind} kind
 * @param {SaveResponse | null} answer  null: the save did not happen (an error, signed out)
 * @returns {ReviewState}
 */
export function saveEnded(state, kind, answer) {
  if (!answer) return { ...state, saving: false };
  return { ...state, saving: false, results: { kind, ...answer }, activityForm: null };
}
