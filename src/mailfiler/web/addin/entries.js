// @ts-check
// A line of the review: who, what saving would do for them and why (the server's words and
// tone), its "X", and for a shared address the choice, for an unknown one "Add contact".

import { h } from "../shared/dom.js";
import { entries, pick, removeEntry, visible } from "./state.js";

/** @typedef {import("./state.js").Entry} Entry */
/** @typedef {import("./pane.js").Pane} Pane */

export const LINE_NAMES = { from: "From", to: "To", cc: "Cc", bcc: "Bcc", added: "Added" };

/**
 * @param {Pane} pane
 * @param {Entry} entry
 */
export function entryView(pane, entry) {
  const contact = entry.contact_id ? entry.contacts.find((c) => c.id === entry.contact_id) : null;
  const title = contact ? contact.full_name : entry.name || entry.address;
  const remove = h(
    "button",
    {
      type: "button",
      class: "icon remove",
      id: `remove-${entry.key}`,
      title: `Remove ${title}`,
      "aria-label": `Remove ${title}`,
      onClick: () => {
        // Focus goes to the next entry's "X" (or the one before, or the search box).
        const state = pane.state();
        const shown = entries(state).filter((e) => visible(state, e));
        const at = shown.findIndex((e) => e.key === entry.key);
        const neighbour = shown[at + 1] || shown[at - 1];
        pane.update(removeEntry(state, entry.key), neighbour ? `remove-${neighbour.key}` : "search");
      },
    },
    "✕",
  );
  const settled = entry.status === "would_save" || entry.status === "duplicate";
  return h(
    "li",
    {
      // As read (a shared address stays one once picked) and as it would be saved now.
      class: [...new Set(["entry", entry.read, entry.status])].join(" "),
      dataset: { role: entry.role, address: entry.address },
    },
    h(
      "div",
      { class: "bar" },
      h(
        "div",
        { class: "who" },
        h("span", { class: "line" }, LINE_NAMES[entry.role] || entry.role),
        contact && contact.profile_url
          ? h("a", { href: contact.profile_url, target: "_blank", rel: "noopener", class: "name" }, title)
          : h("span", { class: "name" }, title),
        entry.self ? h("span", { class: "badge" }, "you") : null,
      ),
      remove,
    ),
    contact && contact.organization ? h("p", { class: "org" }, contact.organization) : null,
    h("p", { class: "muted address" }, entry.address, " ", h("span", { class: `badge ${entry.tone}` }, entry.label)),
    settled ? null : h("p", { class: "reason" }, entry.reason),
    entry.read === "ambiguous" ? pickView(pane, entry) : null,
    entry.status === "no_contact" ? addContactView(pane, entry) : null,
  );
}

/**
 * @param {Pane} pane
 * @param {Entry} entry
 */
function pickView(pane, entry) {
  const state = pane.state();
  const name = `pick-${entry.key}`;
  const address = entry.address.toLowerCase();
  return h(
    "fieldset",
    { class: "pick" },
    h("legend", {}, "Save to one of them:"),
    entry.contacts.map((c) =>
      h(
        "label",
        { class: "inline" },
        h("input", {
          type: "radio",
          name,
          id: `${name}-${c.id}`,
          value: c.id,
          checked: state.picks[address] === c.id,
          onChange: () => pane.update(pick(pane.state(), address, c.id)),
        }),
        `${c.full_name}${c.organization ? ` (${c.organization})` : ""} · ${c.id}`,
      ),
    ),
  );
}

/**
 * @param {Pane} pane
 * @param {Entry} entry
 */
function addContactView(pane, entry) {
  const review = pane.state().review;
  if (review.actions.add_contact.state !== "allowed") return null;
  if (pane.view.addingFor !== entry.key) {
    return h(
      "button",
      {
        type: "button",
        class: "link add-contact",
        id: `add-${entry.key}`,
        onClick: () => {
          pane.view.addingFor = entry.key;
          pane.render("new-name");
        },
      },
      "Add contact",
    );
  }
  const note = review.new_contact_note;
  const form = h(
    "form",
    { class: "add-form" },
    h("label", { for: "new-name" }, "Full name"),
    h("input", { id: "new-name", name: "full_name", required: true, value: entry.name || "" }),
    h("label", { for: "new-org" }, "Organization"),
    h("input", { id: "new-org", name: "organization", "aria-describedby": note ? "new-org-note" : null }),
    note ? h("p", { id: "new-org-note", class: "muted" }, note) : null,
    h("label", { for: "new-email" }, "Email"),
    h("input", { id: "new-email", name: "email", required: true, value: entry.address }),
    h(
      "div",
      { class: "row" },
      h("button", { type: "submit", class: "primary" }, "Add contact"),
      h(
        "button",
        {
          type: "button",
          onClick: () => {
            pane.view.addingFor = null;
            pane.render(`add-${entry.key}`);
          },
        },
        "Cancel",
      ),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(/** @type {HTMLFormElement} */ (form));
    const text = (/** @type {string} */ name) => String(data.get(name) || "").trim();
    try {
      await pane.guarded(
        () =>
          pane.call("/api/v1/contacts", {
            method: "POST",
            json: { full_name: text("full_name"), organization: text("organization"), emails: [text("email")] },
          }),
        () => pane.render(),
      );
      pane.view.addingFor = null;
      await pane.refresh();
    } catch (failure) {
      pane.fail(failure);
    }
  });
  return form;
}
