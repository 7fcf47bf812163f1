// @ts-check
// The review's transitions, without a browser: node --test tests/js (make test).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  addContact,
  asked,
  chosenContactIds,
  choices,
  entries,
  kindNow,
  pick,
  previewed,
  removeEntry,
  reviewed,
  reviewedAgain,
  saveBegun,
  saveButton,
  saveEnded,
  toggleLine,
  visible,
} from "../../src/mailfiler/web/addin/state.js";

const ann = { id: "101", full_name: "Ann Archer", emails: ["ann@example.org"], organization: "" };
const bob = { id: "102", full_name: "Bob Baker", emails: ["bob@example.org"], organization: "" };
const dan = { id: "104", full_name: "Dan Evans", emails: ["shared@example.org"], organization: "" };
const erin = { id: "105", full_name: "Erin Evans", emails: ["shared@example.org"], organization: "" };
const zoe = { id: "109", full_name: "Zoe Zimmer", emails: ["zoe@example.org"], organization: "" };

/**
 * @param {string} role @param {string} address @param {string} status
 * @param {object[]} contacts @param {object} extra
 */
function person(role, address, status, contacts = [], extra = {}) {
  const contact_id = contacts.length === 1 ? contacts[0].id : null;
  const words = { would_save: ["will be saved", "good"], ambiguous: ["shared address", "warn"] }[status] || [
    status,
    "bad",
  ];
  return {
    role,
    address,
    name: "",
    status,
    label: words[0],
    tone: words[1],
    self: false,
    reason: "",
    contacts,
    contact_id,
    listed: true,
    filed: false,
    ...extra,
  };
}

/** @returns {any} the server's review, as much of it as the state reads */
function message() {
  const allowed = { state: "allowed", reason: "" };
  return {
    message_ref: "ref-1",
    kind: "interaction",
    subject: "Renewal",
    mode: "read",
    participants: [
      person("from", "me@example.org", "excluded", [], { self: true, listed: false }),
      person("to", "ann@example.org", "would_save", [ann]),
      person("cc", "bob@example.org", "would_save", [bob]),
      person("cc", "shared@example.org", "ambiguous", [dan, erin]),
    ],
    attachments: [
      { id: "0", name: "a.pdf", status: "would_save" },
      { id: "1", name: "empty.txt", status: "empty" },
    ],
    actions: { interaction: allowed, activity: allowed, add_contact: allowed },
    saves: { interaction: { allowed: true, reason: "" }, activity: { allowed: true, reason: "" } },
    activity_types: [],
    notes: [],
  };
}

const keys = (state) =>
  entries(state)
    .filter((e) => visible(state, e))
    .map((e) => e.key);

test("a message just read saves every line, yourself on From left out, every file but the empty one", () => {
  const state = reviewed(message());
  assert.deepEqual(keys(state), ["to:ann@example.org", "cc:bob@example.org", "cc:shared@example.org"]);
  assert.deepEqual([...state.keep], ["0"]);
  assert.deepEqual(chosenContactIds(state), ["101", "102"]);
});

test("a line turned off is not saved; turned on again, its removed entries come back", () => {
  let state = removeEntry(reviewed(message()), "cc:bob@example.org");
  assert.deepEqual(chosenContactIds(state), ["101"]);
  state = toggleLine(state, "cc");
  assert.deepEqual(keys(state), ["to:ann@example.org"]);
  state = toggleLine(state, "cc");
  assert.deepEqual(chosenContactIds(state), ["101", "102"]);
});

test("a shared address is saved to the contact picked, and one added by search is saved too", () => {
  let state = pick(reviewed(message()), "Shared@Example.org", "105");
  state = addContact(addContact(state, zoe), zoe);
  assert.deepEqual(chosenContactIds(state), ["101", "102", "105", "109"]);
  assert.equal(entries(state).filter((e) => e.role === "added").length, 1);
  assert.deepEqual(choices(state, "interaction").picks, { "shared@example.org": "105" });
});

test("what an entry says is the server's answer for the choices held now, never an older one", () => {
  let state = addContact(reviewed(message()), zoe);
  const before = asked(state);
  /** @type {any} the server's preview, as much of it as the state reads */
  const preview = {
    kind: "interaction",
    participants: [
      person("to", "ann@example.org", "duplicate", [ann], { label: "already saved as Interaction", tone: "warn" }),
      person("added", "zoe@example.org", "duplicate", [zoe], { label: "already saved as Interaction", tone: "warn" }),
    ],
    attachments: [],
    notes: [],
    save: { allowed: true, reason: "" },
    saves: { interaction: { allowed: true, reason: "" }, activity: { allowed: true, reason: "" } },
  };
  const shown = previewed(state, preview, before);
  const said = Object.fromEntries(entries(shown).map((e) => [e.key, e.label]));
  assert.equal(said["to:ann@example.org"], "already saved as Interaction");
  assert.equal(said["added:109"], "already saved as Interaction");
  assert.equal(said["cc:bob@example.org"], "will be saved"); // not in the answer: as first read
  // An answer for choices the user has since changed is not shown.
  state = removeEntry(state, "to:ann@example.org");
  assert.equal(previewed(state, preview, before), state);
});

test("read again after a save, the review keeps the user's choices, the added contact too", () => {
  let state = addContact(removeEntry(reviewed(message()), "cc:bob@example.org"), zoe);
  state = saveEnded(
    saveBegun(state),
    "interaction",
    /** @type {any} a save's answer, in part */ ({
      results: [],
      attachments: [],
      eml: null,
      attachments_note: null,
    }),
  );
  assert.ok(state.results);
  state = reviewedAgain(state, message());
  assert.equal(state.results, null);
  assert.deepEqual(chosenContactIds(state), ["101", "109"]);
});

test("a second press while a save is under way does nothing, and the buttons are disabled", () => {
  const state = saveBegun(reviewed(message()));
  assert.ok(state);
  assert.equal(saveBegun(state), null);
  assert.equal(saveButton(state, "interaction").enabled, false);
  assert.equal(saveEnded(state, "interaction", null).saving, false);
});

test("Save is disabled with the server's reason when the choices would save nothing", () => {
  const state = reviewed(message());
  const over = "This save would file to 3 contacts; at most 2 are allowed per save (Max Total Emails).";
  /** @type {any} the server's preview, as much of it as the state reads */
  const preview = {
    kind: "interaction",
    participants: [],
    attachments: [],
    notes: [],
    save: { allowed: false, reason: over },
    saves: { interaction: { allowed: false, reason: over }, activity: { allowed: false, reason: over } },
  };
  const shown = previewed(state, preview, asked(state));
  assert.deepEqual(saveButton(shown, "interaction"), { shown: true, enabled: false, reason: over });
  assert.deepEqual(saveButton(shown, "activity"), { shown: true, enabled: false, reason: over });
  assert.equal(saveButton(state, "interaction").enabled, true);
});

test("each Save button follows the server's verdict for its own kind", () => {
  const state = reviewed(message());
  const saved = { allowed: false, reason: "This message is already saved for every contact chosen" };
  const saves = { interaction: saved, activity: { allowed: true, reason: "" } };
  /** @type {any} the server's preview, as much of it as the state reads */
  const preview = { kind: "interaction", participants: [], attachments: [], notes: [], save: saved, saves };
  const shown = previewed(state, preview, asked(state));
  assert.equal(saveButton(shown, "interaction").enabled, false);
  assert.equal(saveButton(shown, "activity").enabled, true);
});

test("an action the user may not take is refused with its own reason, one hidden is not shown", () => {
  const review = message();
  review.actions.activity = { state: "refused", reason: "Activities need the Enterprise edition." };
  review.actions.interaction = { state: "hidden", reason: "" };
  const state = reviewed(review);
  assert.equal(saveButton(state, "interaction").shown, false);
  assert.equal(saveButton(state, "activity").reason, "Activities need the Enterprise edition.");
  assert.equal(kindNow(state), "interaction");
});
