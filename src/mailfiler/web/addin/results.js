// @ts-check
// After a save: what was saved for each contact, what was not and why, the files not saved.

import { h, replaceContent } from "../shared/dom.js";

/** @typedef {import("./pane.js").Pane} Pane */

/**
 * @param {Pane} pane
 * @param {HTMLElement} app
 */
export function resultsView(pane, app) {
  const state = pane.state();
  const results = state.results;
  if (!results) return;
  const label = results.kind_label;
  // Every address the save did not file, with why: nothing is left out silently.
  const notSaved = (results.participants || []).filter((p) => !p.filed && p.listed);
  const summary = results.summary;
  // Every file the save did not keep, with why (those left out by the user are no news).
  const files = [...(results.attachments || []), ...(results.eml ? [results.eml] : [])];
  const anySaved = results.results.some((r) => r.status === "saved" || r.status === "partial");
  const filesNotSaved = files.filter(
    (f) => (f.status === "failed" || f.status === "excluded") && !f.chosen_out && anySaved,
  );
  replaceContent(
    app,
    h("h2", { id: "results-title", tabindex: "-1" }, state.review.subject || "(no subject)"),
    h("p", { class: "summary-line", role: "status" }, summary),
    h(
      "ul",
      { class: "results", "aria-label": "What was saved" },
      results.results.map((r) => {
        const record = `${results.kind}-${r.record_id}`;
        const link = r.record_id ? `/staff/#/contacts/${encodeURIComponent(r.contact_id)}?record=${record}` : null;
        return h(
          "li",
          { class: `result ${r.status}` },
          h(
            "div",
            { class: "bar" },
            h("strong", {}, contactName(pane, r.contact_id)),
            h("span", { class: `badge ${r.tone}` }, r.label),
          ),
          r.status === "saved" || r.status === "duplicate"
            ? h("p", {}, link ? h("a", { href: link, target: "_blank", rel: "noopener" }, `Open the ${label}`) : null)
            : h("p", { class: "reason" }, r.reason),
        );
      }),
    ),
    results.results.length === 0 ? h("p", { class: "muted" }, "Nothing was saved.") : null,
    notSaved.length
      ? h(
          "section",
          { "aria-label": "Not saved" },
          h("h3", {}, "Not saved"),
          h(
            "ul",
            { class: "not-saved" },
            notSaved.map((p) =>
              h(
                "li",
                { class: `not-saved-entry ${p.status}` },
                h("strong", {}, p.address || p.name),
                " ",
                h("span", { class: `badge ${p.tone}` }, p.label),
                h("p", { class: "reason" }, p.reason),
              ),
            ),
          ),
        )
      : null,
    filesNotSaved.length
      ? h(
          "section",
          { "aria-label": "Files not saved" },
          h("h3", {}, "Files not saved"),
          h(
            "ul",
            { class: "not-saved" },
            filesNotSaved.map((f) => h("li", {}, h("strong", {}, f.name), " ", h("p", { class: "reason" }, f.reason))),
          ),
        )
      : null,
    results.attachments_note ? h("p", { class: "notice" }, results.attachments_note) : null,
    h(
      "div",
      { class: "row" },
      // Back to the message as it now is: what was just saved shows as saved.
      h("button", { type: "button", id: "back", onClick: () => pane.refresh("message-title") }, "Back to the message"),
      pane.host === "browser"
        ? h(
            "button",
            { type: "button", class: "primary", id: "file-another", onClick: () => pane.fileAnother() },
            "File another message",
          )
        : null,
    ),
  );
}

/**
 * @param {Pane} pane
 * @param {string} id
 */
function contactName(pane, id) {
  const state = pane.state();
  for (const p of [...state.review.participants, ...(state.results?.participants || [])]) {
    const found = p.contacts.find((c) => c.id === id);
    if (found) return found.full_name;
  }
  const added = state.added.find((c) => c.id === id);
  return added ? added.full_name : id;
}
