// @ts-check
// Building the page from data. Text is always set as text, never parsed as
// HTML: names, subjects and reasons come from email and can hold anything.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      element.className = value;
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function replaceContent(container, ...children) {
  container.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

export function formatDate(value) {
  if (!value) return "";
  const date = new Date(value);
  // The viewer's own clock, naming its zone: one time, read one way, everywhere.
  return date.toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  });
}

export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// A sign-in form; calls onSignedIn once the server accepted the credentials.
/**
 * @param {{ identity?: { cloud_id?: string, username?: string }, notice?: string,
 *   onSubmit: (cloudId: string, username: string, password: string) => Promise<void> }} what
 */
export function signInForm({ identity = {}, notice = "", onSubmit }) {
  const error = h("p", { class: "error", role: "alert", id: "signin-error" });
  const form = h(
    "form",
    { class: "card signin", "aria-labelledby": "signin-title" },
    h("h2", { id: "signin-title" }, "Sign in"),
    notice ? h("p", { class: "notice", role: "status" }, notice) : null,
    h("label", { for: "cloud-id" }, "Cloud ID"),
    h("input", {
      id: "cloud-id",
      name: "cloud_id",
      required: true,
      value: identity.cloud_id || "",
    }),
    h("label", { for: "username" }, "User name"),
    h("input", {
      id: "username",
      name: "username",
      required: true,
      autocomplete: "username",
      value: identity.username || "",
    }),
    h("label", { for: "password" }, "Password"),
    h("input", {
      id: "password",
      name: "password",
      type: "password",
      required: true,
      autocomplete: "current-password",
    }),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    error.textContent = "";
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const text = (/** @type {string} */ name) => String(data.get(name) || "");
      await onSubmit(text("cloud_id").trim(), text("username").trim(), text("password"));
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
