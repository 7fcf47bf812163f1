// The task pane: in Outlook it reads the open item; in a plain browser it is
// the drop page. Then: review the contacts, choose, save; see what happened.
//
// The review follows the product page: a From / To / Cc (/ Bcc) filter at the
// top toggles which lines are saved; an "X" removes one entry; toggling a
// line's filter off and on again restores that line's removed entries.

import { call, currentSession, lastIdentity, Problem, signIn, signOut, SignedOut } from "/shared/api.js";
import { formatDate, formatSize, h, replaceContent, signInForm } from "/shared/dom.js";
import { isCompose, messageRequest, outlookItem } from "./outlook.js";
import { optionsView } from "./options.js";

const app = document.getElementById("app");
const headerActions = document.getElementById("header-actions");
const LINES = ["from", "to", "cc", "bcc"];
const LINE_NAMES = { from: "From", to: "To", cc: "Cc", bcc: "Bcc", added: "Added" };
// After this long, a save still under way says the CRM is slow (not that the pane is stuck).
const SLOW_AFTER_MS = 8000;

const state = {
  host: null,          // "outlook" or "browser"
  review: null,        // the API's answer to POST /messages
  filters: {},         // line -> shown?
  removed: new Set(),  // entry keys removed with "X"
  picks: {},           // shared address -> contact ID
  added: [],           // contacts added by search
  eml: false,
  keep: new Set(),     // attachment IDs kept
  attachmentsOpen: false,
  activityForm: null,  // {type, fields} while the form is open
  results: null,       // the last save's answer
  busy: "",
  error: "",
  resume: null,        // what to do after signing in again
};

// -- starting ------------------------------------------------------------------------

function start() {
  if (window.Office && typeof Office.onReady === "function") {
    Office.onReady((info) => {
      state.host = info && info.host === "Outlook" && outlookItem() ? "outlook" : "browser";
      begin();
    });
  } else {
    state.host = "browser";
    begin();
  }
}

async function begin() {
  renderHeader();
  if (!currentSession()) return showSignIn("", () => begin());
  const options = await guarded(() => call("/api/v1/options"), () => begin());
  if (!options) return undefined;
  state.canChangeOptions = options.can_change;
  renderHeader();
  if (state.host === "outlook") return readOutlookItem();
  return showDropPage();
}

function renderHeader() {
  const session = currentSession();
  const buttons = [];
  if (session && state.canChangeOptions) {
    buttons.push(h("button", { type: "button", id: "options-button", onClick: () => openOptions() }, "Options"));
  }
  if (session) {
    buttons.push(h("button", { type: "button", title: `Signed in as ${session.username} (${session.cloud_id})`, onClick: async () => {
      await signOut();
      state.review = null;
      begin();
    } }, "Sign out"));
  }
  replaceContent(headerActions, buttons);
}

// Runs an API call; when the sign-in has ended, asks for it and then goes on.
async function guarded(work, again) {
  try {
    return await work();
  } catch (failure) {
    if (failure instanceof SignedOut) {
      showSignIn("Your sign-in has ended. Sign in again to continue.", again);
      return undefined;
    }
    throw failure;
  }
}

function showSignIn(notice, then) {
  state.resume = then;
  renderHeader();
  replaceContent(app, signInForm({
    identity: lastIdentity(),
    notice,
    onSubmit: async (cloudId, username, password) => {
      await signIn(cloudId, username, password);
      renderHeader();
      const next = state.resume;
      state.resume = null;
      if (next) await next();
    },
  }));
  const empty = app.querySelector("input:not([value]), input[value='']");
  (empty || app.querySelector("#password")).focus();
}

// -- getting the message -----------------------------------------------------------------

async function readOutlookItem() {
  replaceContent(app, h("p", { class: "muted", role: "status" }, "Reading the message…"));
  try {
    const item = outlookItem();
    const request = await messageRequest(item);
    state.compose = isCompose(item);
    await upload(request.body, request.contentType, () => readOutlookItem());
  } catch (failure) {
    showError(failure);
  }
}

function showDropPage() {
  // Not a Tab stop of its own: the drop zone (a button) opens it.
  const input = h("input", { type: "file", id: "file", tabindex: "-1", accept: ".eml,.msg,message/rfc822,application/vnd.ms-outlook", class: "visually-hidden", onChange: () => {
    if (input.files.length) readFile(input.files[0]);
  } });
  // A real button: Enter and Space open the file chooser as a click does.
  const zone = h(
    "button",
    { type: "button", class: "drop", id: "drop", "aria-describedby": "drop-help", onClick: () => input.click() },
    h("span", { class: "drop-title" }, "Drop an email here"),
    h("span", { class: "muted", id: "drop-help" }, "An .eml or Outlook .msg file — or click to choose one."),
  );
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (file) readFile(file);
  });
  replaceContent(app, h("label", { for: "file", class: "visually-hidden" }, "Choose an email file"), input, zone,
    state.error ? h("p", { class: "error", role: "alert" }, state.error) : null);
  zone.focus();  // the keyboard starts where the page's one action is
}

async function readFile(file) {
  state.compose = false;
  const form = new FormData();
  form.append("file", file, file.name);
  replaceContent(app, h("p", { class: "muted", role: "status" }, `Reading ${file.name}…`));
  try {
    await upload(form, null, () => readFile(file));
  } catch (failure) {
    state.error = failure.message;
    showDropPage();
    state.error = "";
  }
}

async function upload(body, contentType, again) {
  const headers = contentType ? { "Content-Type": contentType } : {};
  const review = await guarded(() => call("/api/v1/messages", { method: "POST", body, headers }), again);
  if (review) await showReview(review);
}

async function showReview(review) {
  state.review = review;
  state.compose = review.mode === "compose";
  state.filters = Object.fromEntries(LINES.map((line) => [line, true]));
  state.removed = new Set();
  state.picks = {};
  state.added = [];
  state.eml = false;
  state.keep = new Set(review.attachments.filter((a) => a.status !== "empty").map((a) => a.id));
  state.attachmentsOpen = false;
  state.activityForm = null;
  state.results = null;
  renderHeader();
  state.focusNext = "message-title";  // a new message: the keyboard starts at its title
  render();
}

let focusAfterRefresh = null;  // where the keyboard goes once the review is read again

// Review again (after adding a contact, or after signing in again).
async function refreshReview() {
  const ref = state.review.message_ref;
  const review = await guarded(() => call(`/api/v1/messages/${encodeURIComponent(ref)}`), () => refreshReview());
  if (!review) return;
  const keep = { filters: state.filters, removed: state.removed, picks: state.picks, added: state.added, eml: state.eml, keep: state.keep, open: state.attachmentsOpen };
  const focused = document.activeElement && document.activeElement.id;
  await showReview(review);
  Object.assign(state, { filters: keep.filters, removed: keep.removed, picks: keep.picks, added: keep.added, eml: keep.eml, keep: keep.keep, attachmentsOpen: keep.open });
  state.focusNext = focusAfterRefresh || focused || "message-title";
  focusAfterRefresh = null;
  render();
}

function showError(failure) {
  replaceContent(app, h("div", { class: "card" }, h("p", { class: "error", role: "alert" }, failure.message || String(failure)),
    h("button", { type: "button", onClick: () => begin() }, "Try again")));
}

// -- the review ---------------------------------------------------------------------------

function entries() {
  const review = state.review;
  const shown = [];
  review.participants.forEach((p, index) => {
    // Yourself only when listed explicitly on To or Cc (the product page).
    if (p.self && (p.role === "from" || p.role === "bcc")) return;
    shown.push({ ...p, key: `p${index}` });
  });
  for (const contact of state.added) {
    shown.push({ role: "added", address: contact.emails[0] || "", name: contact.full_name, status: "would_save", self: false,
      reason: "added by you", contacts: [contact], contact_id: contact.id, key: `a${contact.id}` });
  }
  return shown;
}

function visible(entry) {
  if (entry.role !== "added" && !state.filters[entry.role]) return false;
  return !state.removed.has(entry.key);
}

function chosenContactIds() {
  const ids = [];
  for (const entry of entries()) {
    if (!visible(entry)) continue;
    const id = entry.contact_id || state.picks[entry.address.toLowerCase()];
    if (id && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

// Redrawing the pane must not move the keyboard: the control that had focus keeps
// it (found again by its id), or the one an action names (state.focusNext).
function keepFocus(draw) {
  const before = document.activeElement && document.activeElement.id;
  draw();
  const next = (state.focusNext && document.getElementById(state.focusNext)) || (before && document.getElementById(before));
  state.focusNext = null;
  if (next && next !== document.activeElement) next.focus();
}

function render() {
  keepFocus(draw);
}

function draw() {
  const review = state.review;
  if (!review) return;
  if (state.results) return renderResults();
  const lines = LINES.filter((line) => line !== "bcc" || state.compose || review.participants.some((p) => p.role === "bcc"));
  const list = entries();
  replaceContent(
    app,
    h("section", { class: "summary", "aria-label": "Message" },
      h("h2", { id: "message-title", tabindex: "-1" }, review.subject || "(no subject)"),
      h("p", { class: "muted" }, review.sender ? `${review.sender.name || review.sender.address} · ` : "", formatDate(review.date))),
    h("div", { class: "filters", role: "group", "aria-label": "Lines to save" },
      lines.map((line) => h("button", {
        type: "button", class: "filter", id: `filter-${line}`, "aria-pressed": String(state.filters[line]),
        onClick: () => toggleLine(line),
      }, LINE_NAMES[line], " ", h("span", { class: "count" }, String(list.filter((e) => e.role === line).length))))),
    h("ul", { class: "entries", "aria-label": "Contacts" }, list.filter(visible).map(entryView)),
    list.filter(visible).length === 0 ? h("p", { class: "muted" }, "No contacts are selected.") : null,
    searchView(),
    h("label", { class: "inline eml" },
      h("input", { type: "checkbox", id: "eml", checked: state.eml, onChange: (event) => { state.eml = event.target.checked; render(); } }),
      "Save Mail Message as EML file attachment"),
    attachmentsView(),
    review.attachments_note ? h("p", { class: "notice", role: "status" }, review.attachments_note) : null,
    review.notes.length ? h("details", { class: "notes" }, h("summary", {}, "What mailfiler noticed"), h("ul", {}, review.notes.map((n) => h("li", {}, n)))) : null,
    actionsView(),
    state.activityForm ? activityFormView() : null,
    state.busy ? h("p", { class: "muted", role: "status" }, state.busy) : null,
    state.error ? h("p", { class: "error", role: "alert" }, state.error) : null,
  );
}

function toggleLine(line) {
  const on = !state.filters[line];
  state.filters[line] = on;
  if (on) {
    // Turning a line back on restores the entries removed from it.
    for (const entry of entries()) if (entry.role === line) state.removed.delete(entry.key);
  }
  render();
  document.getElementById(`filter-${line}`).focus();
}

const KIND_NAMES = { interaction: "Interaction", activity: "Activity" };

// What an entry's status is now: the server's, as the user's current choices change it.
// "Already saved" follows the kind about to be saved, and "over the limit" the
// contacts selected now, not those of the first review.
function currentStatus(entry) {
  if (!["would_save", "duplicate", "over_limit"].includes(entry.status)) return entry.status;
  if (chosenContactIds().length > state.review.max_total_emails) return "over_limit";
  const kinds = savedKinds(entry);
  const kind = state.activityForm ? "activity" : null;
  if (kind ? kinds.includes(kind) : kinds.length > 0) return "duplicate";
  return "would_save";
}

function savedKinds(entry) {
  const saved = state.review.saved || {};
  const id = entry.contact_id || state.picks[entry.address.toLowerCase()];
  return Object.keys(KIND_NAMES).filter((kind) => id && saved[kind] && saved[kind][id]);
}

function statusBadge(entry) {
  const status = currentStatus(entry);
  const words = {
    would_save: ["will be saved", "good"], duplicate: ["already saved", "warn"], no_contact: ["no contact", "bad"],
    ambiguous: ["shared address", "warn"], not_permitted: ["not permitted", "bad"], over_limit: ["over the limit", "bad"],
    excluded: ["left out", ""], unsure: ["needs checking", "bad"], partial: ["saved without a file", "warn"],
  };
  let [text, kind] = words[status] || [status, ""];
  if (status === "duplicate" && !state.activityForm) {
    text = `already saved as ${savedKinds(entry).map((k) => KIND_NAMES[k]).join(" and ")}`;
  }
  return h("span", { class: `badge ${kind}` }, text);
}

function entryView(entry) {
  const contact = entry.contact_id ? entry.contacts.find((c) => c.id === entry.contact_id) : null;
  const title = contact ? contact.full_name : entry.name || entry.address;
  const remove = h("button", { type: "button", class: "icon remove", id: `remove-${entry.key}`, title: `Remove ${title}`, "aria-label": `Remove ${title}`, onClick: () => {
    // Focus goes to the next entry's "X" (or the one before, or the search box).
    const shown = entries().filter(visible);
    const at = shown.findIndex((e) => e.key === entry.key);
    const neighbour = shown[at + 1] || shown[at - 1];
    state.focusNext = neighbour ? `remove-${neighbour.key}` : "search";
    state.removed.add(entry.key);
    render();
  } }, "✕");
  return h(
    "li",
    { class: `entry ${currentStatus(entry)}`, dataset: { role: entry.role, address: entry.address } },
    h("div", { class: "bar" },
      h("div", { class: "who" },
        h("span", { class: "line" }, LINE_NAMES[entry.role]),
        contact && contact.profile_url
          ? h("a", { href: contact.profile_url, target: "_blank", rel: "noopener", class: "name" }, title)
          : h("span", { class: "name" }, title),
        entry.self ? h("span", { class: "badge" }, "you") : null),
      remove),
    contact && contact.organization ? h("p", { class: "org" }, contact.organization) : null,
    h("p", { class: "muted address" }, entry.address, " ", statusBadge(entry)),
    ["would_save", "duplicate"].includes(currentStatus(entry)) ? null
      : h("p", { class: "reason" }, currentStatus(entry) === "over_limit" && entry.status !== "over_limit"
        ? `This save would file to ${chosenContactIds().length} contacts; your organisation allows at most ${state.review.max_total_emails} per save (Max Total Emails).`
        : entry.reason),
    entry.status === "ambiguous" ? pickView(entry) : null,
    entry.status === "no_contact" ? addContactView(entry) : null,
  );
}

function pickView(entry) {
  const name = `pick-${entry.key}`;
  const address = entry.address.toLowerCase();
  return h("fieldset", { class: "pick" },
    h("legend", {}, "Save to one of them:"),
    entry.contacts.map((c) => h("label", { class: "inline" },
      h("input", { type: "radio", name, id: `${name}-${c.id}`, value: c.id, checked: state.picks[address] === c.id, onChange: () => { state.picks[address] = c.id; render(); } }),
      `${c.full_name}${c.organization ? ` (${c.organization})` : ""} · ${c.id}`)));
}

function addContactView(entry) {
  const action = state.review.actions.add_contact;
  if (action.state !== "allowed") return null;
  const open = state.addingFor === entry.key;
  if (!open) {
    return h("button", { type: "button", class: "link add-contact", id: `add-${entry.key}`, onClick: () => { state.addingFor = entry.key; state.focusNext = "new-name"; render(); } }, "Add contact");
  }
  const form = h("form", { class: "add-form" },
    h("label", { for: "new-name" }, "Full name"),
    h("input", { id: "new-name", name: "full_name", required: true, value: entry.name || "" }),
    h("label", { for: "new-org" }, "Organisation"),
    h("input", { id: "new-org", name: "organization", "aria-describedby": state.review.new_contact_note ? "new-org-note" : null }),
    state.review.new_contact_note ? h("p", { id: "new-org-note", class: "muted" }, state.review.new_contact_note) : null,
    h("label", { for: "new-email" }, "Email"),
    h("input", { id: "new-email", name: "email", required: true, value: entry.address }),
    h("div", { class: "row" },
      h("button", { type: "submit", class: "primary" }, "Add contact"),
      h("button", { type: "button", onClick: () => { state.addingFor = null; state.focusNext = `add-${entry.key}`; render(); } }, "Cancel")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    try {
      await guarded(() => call("/api/v1/contacts", { method: "POST", json: {
        full_name: data.get("full_name").trim(), organization: data.get("organization").trim(), emails: [data.get("email").trim()],
      } }), () => render());
      state.addingFor = null;
      await refreshReview();
    } catch (failure) {
      state.error = failure.message;
      render();
      state.error = "";
    }
  });
  return form;
}

function searchView() {
  const results = state.searchResults || [];
  const form = h("form", { class: "search", role: "search" },
    h("label", { for: "search" }, "Add a contact"),
    h("div", { class: "row nowrap" },
      h("input", { id: "search", name: "q", type: "search", placeholder: "Name or email address", value: state.searchText || "" }),
      h("button", { type: "submit" }, "Search")),
    state.searchResults ? h("ul", { class: "search-results", "aria-label": "Search results" },
      results.length ? results.map((c) => h("li", { class: "bar" },
        h("span", {}, c.full_name, h("span", { class: "muted" }, ` ${c.emails.join(", ")}`)),
        h("button", { type: "button", class: "link", "aria-label": `Add ${c.full_name}`, onClick: () => {
          if (!state.added.some((a) => a.id === c.id)) state.added.push(c);
          state.searchResults = null;
          state.searchText = "";
          render();
        } }, "Add"))) : h("li", { class: "muted" }, "No contact found.")) : null);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = new FormData(form).get("q").trim();
    if (!text) return;
    state.searchText = text;
    const found = await guarded(() => call(`/api/v1/contacts?q=${encodeURIComponent(text)}`), () => render());
    state.searchResults = found || [];
    render();
    document.getElementById("search").focus();
  });
  return form;
}

function attachmentsView() {
  const files = state.review.attachments;
  // Checking "EML" hides the section: an .eml file cannot leave attachments out.
  if (!files.length || state.eml) return null;
  const toggle = () => { state.attachmentsOpen = !state.attachmentsOpen; render(); };
  return h("section", { class: "attachments" },
    h("h3", {},
      h("button", { type: "button", class: "disclosure", id: "attachments-toggle", "aria-expanded": String(state.attachmentsOpen), "aria-controls": "attachment-list", onClick: toggle },
        h("span", { class: "arrow", "aria-hidden": "true" }, state.attachmentsOpen ? "▾" : "▸"), " Attachments ", h("span", { class: "count" }, String(files.length)))),
    state.attachmentsOpen ? h("ul", { id: "attachment-list", class: "attachment-list" }, files.map((file) => {
      const empty = file.status === "empty";
      const id = `attachment-${file.id}`;
      return h("li", {},
        h("label", { class: "inline", for: id },
          h("input", { type: "checkbox", id, checked: !empty && state.keep.has(file.id), disabled: empty, onChange: (event) => {
            if (event.target.checked) state.keep.add(file.id); else state.keep.delete(file.id);
          } }),
          h("span", { class: "file-name" }, file.name)),
        h("p", { class: "muted" }, formatSize(file.size),
          empty ? " · not saved: empty file" : "",
          !empty && file.saved_as && file.saved_as !== file.name ? ` · saved as "${file.saved_as}"` : ""));
    })) : null);
}

function actionButton(kind, label, onClick) {
  const action = state.review.actions[kind];
  if (action.state === "hidden") return null;
  const refused = action.state === "refused";
  const nothing = chosenContactIds().length === 0;
  const reason = refused ? action.reason : nothing ? "Select at least one contact to save to." : "";
  return h("button", {
    type: "button", class: "primary", id: `save-${kind}`, disabled: refused || nothing,
    title: reason || null, "aria-describedby": reason ? `why-${kind}` : null, onClick,
  }, label);
}

function actionsView() {
  const review = state.review;
  const activity = review.actions.activity;
  const types = review.activity_types;
  const chosenType = types.find((t) => t.default) || types[0];
  // The sentence each disabled button points at (aria-describedby) is always there.
  const nothing = chosenContactIds().length === 0;
  const reasons = ["interaction", "activity"].map((kind) => {
    const action = review.actions[kind];
    if (action.state === "refused") return h("p", { class: "muted", id: `why-${kind}` }, action.reason);
    if (action.state === "allowed" && nothing) return h("p", { class: "muted", id: `why-${kind}` }, "Select at least one contact to save to.");
    return null;
  });
  return h("div", { class: "actions" },
    h("div", { class: "row" },
      actionButton("interaction", "Save as Interaction", () => save("interaction")),
      actionButton("activity", "Save as Activity", () => save("activity", chosenType ? { type: chosenType.code, fields: {} } : null)),
      activity.state === "allowed" && chosenType
        ? h("span", { class: "activity-type" }, chosenType.name,
          h("button", { type: "button", class: "icon", id: "edit-activity", title: "Edit the Activity before saving", "aria-label": `Edit the ${chosenType.name} Activity before saving`, onClick: () => openActivityForm(chosenType) }, "✎"))
        : null),
    reasons);
}

// "2026-11-02T08:00:00+01:00" <-> the viewer's own clock, as <input type="datetime-local"> shows it.
function toLocalInput(value) {
  const moment = value ? new Date(value) : null;
  if (!moment || Number.isNaN(moment.getTime())) return "";
  const local = new Date(moment.getTime() - moment.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

function fromLocalInput(value) {
  if (!value) return "";
  const moment = new Date(value);  // read in the viewer's zone
  const offset = -moment.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return `${value}:00${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}

function zoneName() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

function openActivityForm(type) {
  state.activityForm = { type: type.code, fields: Object.fromEntries(type.fields.map((f) => [f.name, f.value])) };
  render();
  const first = app.querySelector(".activity-form input, .activity-form textarea, .activity-form select");
  if (first) first.focus();
}

function activityFormView() {
  const types = state.review.activity_types;
  const form = state.activityForm;
  const type = types.find((t) => t.code === form.type) || types[0];
  const element = h("form", { class: "card activity-form", "aria-label": "Activity" },
    h("h3", {}, "Activity"),
    types.length > 1 ? [h("label", { for: "activity-type" }, "Activity type"),
      h("select", { id: "activity-type", onChange: (event) => {
        const next = types.find((t) => t.code === event.target.value);
        openActivityForm(next);
      } }, types.map((t) => h("option", { value: t.code, selected: t.code === type.code }, t.name)))] : null,
    type.fields.map((field) => {
      const id = `field-${field.name}`;
      const value = form.fields[field.name] || "";
      if (field.kind === "date") {
        // A date and time picker in the viewer's zone; sent as an instant with that zone.
        const input = h("input", { id, name: field.name, type: "datetime-local", value: toLocalInput(value) });
        input.addEventListener("input", (event) => { form.fields[field.name] = fromLocalInput(event.target.value); });
        return [h("label", { for: id }, `${field.label || field.name} (${zoneName()})`), input];
      }
      const long = field.name === "NOTE" || value.length > 60 || value.includes("\n");
      const limits = field.max_length ? { maxlength: field.max_length } : {};
      const input = long
        ? h("textarea", { id, name: field.name, ...limits }, form.fields[field.name] || "")
        : h("input", { id, name: field.name, value: form.fields[field.name] || "", type: field.kind === "number" ? "number" : "text", ...limits });
      input.addEventListener("input", (event) => { form.fields[field.name] = event.target.value; });
      return [h("label", { for: id }, field.label || field.name), input];
    }),
    h("div", { class: "row" },
      h("button", { type: "submit", class: "primary" }, "Save as Activity"),
      h("button", { type: "button", onClick: () => { state.activityForm = null; render(); } }, "Cancel")));
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    save("activity", { type: form.type, fields: form.fields });
  });
  return element;
}

async function save(kind, activity = null) {
  const review = state.review;
  const request = {
    contact_ids: chosenContactIds(),
    attachment_ids: state.eml ? null : [...state.keep],
    eml: state.eml,
    picks: state.picks,
  };
  if (kind === "activity") request.activity = activity;
  state.busy = "Saving…";
  state.error = "";
  render();
  // A CRM can take minutes to write (iMIS can): say so, rather than look stuck.
  const slow = setTimeout(() => {
    if (state.busy === "Saving…") {
      state.busy = `${review.crm || "The CRM"} is slow to answer… still saving: keep this pane open.`;
      render();
    }
  }, SLOW_AFTER_MS);
  try {
    const path = `/api/v1/messages/${encodeURIComponent(review.message_ref)}/${kind === "interaction" ? "interactions" : "activities"}`;
    const answer = await guarded(() => call(path, { method: "POST", json: request }), () => save(kind, activity));
    state.busy = "";
    if (!answer) return;
    state.results = { kind, ...answer };
    state.activityForm = null;
    state.focusNext = "results-title";
    render();
  } catch (failure) {
    state.busy = "";
    state.error = failure instanceof Problem ? failure.message : String(failure);
    render();
  } finally {
    clearTimeout(slow);
  }
}

// -- after saving ---------------------------------------------------------------------------

function contactName(id) {
  for (const entry of entries()) {
    const found = entry.contacts.find((c) => c.id === id);
    if (found) return found.full_name;
  }
  return id;
}

function renderResults() {
  const results = state.results;
  const label = results.kind === "interaction" ? "Interaction" : "Activity";
  const words = { saved: "saved", duplicate: "already saved", not_permitted: "refused", over_limit: "refused", no_contact: "not saved", ambiguous: "not saved", excluded: "not saved", failed: "not saved",
    partial: "saved without some files", unsure: "needs checking" };
  // A record that is there (partial: without a file) or may be (unsure) is not "not saved".
  const filed = ["saved", "duplicate", "would_save", "partial", "unsure"];
  // Every address the save did not file, with why: nothing is left out silently.
  const notSaved = (results.participants || []).filter((p) => !filed.includes(p.status)
    && !(p.self && (p.role === "from" || p.role === "bcc")));
  const count = (status) => results.results.filter((r) => r.status === status).length;
  const summary = [`${count("saved")} saved`, count("duplicate") ? `${count("duplicate")} already saved` : null,
    count("partial") ? `${count("partial")} saved without some files` : null,
    count("unsure") ? `${count("unsure")} to check` : null,
    `${notSaved.length + results.results.filter((r) => !filed.includes(r.status)).length} not saved`].filter(Boolean).join(", ");
  const tone = { saved: "good", duplicate: "warn", partial: "warn" };
  // Every file the save did not keep, with why (those left out by the user are no news).
  const files = [...(results.attachments || []), ...(results.eml ? [results.eml] : [])];
  const filesNotSaved = files.filter((f) => ["failed", "excluded"].includes(f.status)
    && !/^left out by you/i.test(f.reason) && results.results.some((r) => ["saved", "partial"].includes(r.status)));
  replaceContent(app,
    h("h2", { id: "results-title", tabindex: "-1" }, state.review.subject || "(no subject)"),
    h("p", { class: "summary-line", role: "status" }, summary),
    h("ul", { class: "results", "aria-label": "What was saved" }, results.results.map((r) => {
      const link = r.record_id ? `/staff/#/contacts/${encodeURIComponent(r.contact_id)}?record=${results.kind}-${r.record_id}` : null;
      return h("li", { class: `result ${r.status}` },
        h("div", { class: "bar" }, h("strong", {}, contactName(r.contact_id)), h("span", { class: `badge ${tone[r.status] || "bad"}` }, words[r.status] || r.status)),
        r.status === "saved" || r.status === "duplicate"
          ? h("p", {}, link ? h("a", { href: link, target: "_blank", rel: "noopener" }, `Open the ${label}`) : null)
          : h("p", { class: "reason" }, r.reason));
    })),
    results.results.length === 0 ? h("p", { class: "muted" }, "Nothing was saved.") : null,
    notSaved.length ? h("section", { "aria-label": "Not saved" }, h("h3", {}, "Not saved"),
      h("ul", { class: "not-saved" }, notSaved.map((p) => h("li", { class: `not-saved-entry ${p.status}` },
        h("strong", {}, p.address || p.name), " ", h("span", { class: "badge" }, words[p.status] || p.status),
        h("p", { class: "reason" }, p.reason))))) : null,
    filesNotSaved.length ? h("section", { "aria-label": "Files not saved" }, h("h3", {}, "Files not saved"),
      h("ul", { class: "not-saved" }, filesNotSaved.map((f) => h("li", {},
        h("strong", {}, f.name), " ", h("p", { class: "reason" }, f.reason))))) : null,
    results.attachments_note ? h("p", { class: "notice" }, results.attachments_note) : null,
    h("div", { class: "row" },
      // Back to the message as it now is: what was just saved shows as saved.
      h("button", { type: "button", id: "back", onClick: async () => { state.results = null; focusAfterRefresh = "message-title"; await refreshReview(); } }, "Back to the message"),
      state.host === "browser"
        ? h("button", { type: "button", class: "primary", id: "file-another", onClick: () => { state.review = null; state.results = null; showDropPage(); document.getElementById("drop").focus(); } }, "File another message")
        : null));
}

// -- options ----------------------------------------------------------------------------------

async function openOptions() {
  const options = await guarded(() => call("/api/v1/options"), () => openOptions());
  if (!options) return;
  state.optionsOpen = true;
  const users = await guarded(() => call("/api/v1/users"), () => openOptions());
  const knownRoles = [...new Set((users || []).flatMap((u) => u.roles))].sort();
  replaceContent(app, optionsView(options, {
    knownRoles,
    onSave: async (changed) => {
      const saved = await guarded(() => call("/api/v1/options", { method: "PUT", json: changed }), () => openOptions());
      state.canChangeOptions = saved ? saved.can_change : state.canChangeOptions;
      return saved;
    },
    onCancel: async () => {
      renderHeader();
      focusAfterRefresh = "options-button";
      if (state.review) await refreshReview(); else await begin();
      document.getElementById("options-button")?.focus();
    },
  }));
  document.getElementById("options-title").focus();
}

// On the drop page, a message may be dropped anywhere, at any time (even on a review).
window.addEventListener("dragover", (event) => { if (state.host === "browser" && currentSession()) event.preventDefault(); });
window.addEventListener("drop", (event) => {
  if (state.host !== "browser" || !currentSession() || event.defaultPrevented) return;
  event.preventDefault();
  const file = event.dataTransfer && event.dataTransfer.files[0];
  if (file) readFile(file);
});

start();
