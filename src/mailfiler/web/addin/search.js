// @ts-check
// "Add a contact": find one by name or address, and add it to the review.

import { h } from "../shared/dom.js";
import { addContact } from "./state.js";

/** @typedef {import("./pane.js").Pane} Pane */
/** @typedef {import("./state.js").Contact} Contact */

/** @param {Pane} pane */
export function searchView(pane) {
  const view = pane.view;
  const results = view.searchResults || [];
  const form = h(
    "form",
    { class: "search", role: "search" },
    h("label", { for: "search" }, "Add a contact"),
    h(
      "div",
      { class: "row nowrap" },
      h("input", {
        id: "search",
        name: "q",
        type: "search",
        placeholder: "Name or email address",
        value: view.searchText,
      }),
      h("button", { type: "submit" }, "Search"),
    ),
    view.searchResults
      ? h(
          "ul",
          { class: "search-results", "aria-label": "Search results" },
          results.length
            ? results.map((c) =>
                h(
                  "li",
                  { class: "bar" },
                  h("span", {}, c.full_name, h("span", { class: "muted" }, ` ${c.emails.join(", ")}`)),
                  h(
                    "button",
                    {
                      type: "button",
                      class: "link",
                      "aria-label": `Add ${c.full_name}`,
                      onClick: () => {
                        view.searchResults = null;
                        view.searchText = "";
                        pane.update(addContact(pane.state(), c));
                      },
                    },
                    "Add",
                  ),
                ),
              )
            : h("li", { class: "muted" }, "No contact found."),
        )
      : null,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = String(new FormData(/** @type {HTMLFormElement} */ (form)).get("q") || "").trim();
    if (!text) return;
    view.searchText = text;
    /** @type {Contact[] | undefined} */
    const found = await pane.guarded(
      () => pane.call(`/api/v1/contacts?q=${encodeURIComponent(text)}`),
      () => pane.render(),
    );
    view.searchResults = found || [];
    pane.render("search");
  });
  return form;
}
